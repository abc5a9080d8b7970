package document

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
)

// PDF is a PDF rendered page by page with pdftoppm.
type PDF struct {
	dir    string // private directory holding input.pdf
	path   string
	data   []byte       // the input, for the searchable PDF
	sizes  [][2]int     // pixels at each page's DPI
	points [][2]float64 // each page as shown (CropBox, turned by /Rotate), in points
	dpi    []int
	tooBig []error // a page over the pixel limit even at MinDPI: refused when rendered
	lim    Limits

	textOnce sync.Once
	text     []*pageText // each page's own text (readText)
	textErr  error

	visibleOnce sync.Once
	visible     []*pageText // each page's visible text: earlier layers removed (visibleText)
}

var (
	rePages = regexp.MustCompile(`(?m)^Pages:\s+(\d+)`)
	reSize  = regexp.MustCompile(`(?m)^Page\s+(\d+)\s+size:\s+([\d.]+)\s+x\s+([\d.]+)\s+pts`)
	reRot   = regexp.MustCompile(`(?m)^Page\s+(\d+)\s+rot:\s+(\d+)`)
)

// run runs a poppler tool with the render time limit and, where prlimit is
// available, the render memory limit, so a hostile PDF kills only its
// renderer.
func run(ctx context.Context, lim Limits, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, lim.RenderTimeout)
	defer cancel()
	if pl, err := exec.LookPath("prlimit"); err == nil {
		args = append([]string{fmt.Sprintf("--as=%d", lim.RenderMemory), "--", name}, args...)
		name = pl
	}
	cmd := exec.CommandContext(ctx, name, args...)
	// The renderer dies with the server, as runners do (Pdeathsig, kept
	// across prlimit's exec). The signal is tied to the thread that forks,
	// so the thread is held until the renderer has exited.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	runtime.LockOSThread()
	out, err := cmd.Output()
	runtime.UnlockOSThread()
	if ctx.Err() == context.DeadlineExceeded {
		return nil, errcode.New(errcode.Timeout, "rendering the PDF took longer than %s", lim.RenderTimeout)
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
		}
		return nil, errcode.Wrap(errcode.Internal, err, "running %s (is poppler-utils installed?)", name)
	}
	return out, nil
}

func openPDF(ctx context.Context, data []byte, lim Limits, dir string) (_ *PDF, err error) {
	tmp, err := os.MkdirTemp(dir, "pdf-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	path := filepath.Join(tmp, "input.pdf")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, err
	}
	info, err := run(ctx, lim, "pdfinfo", path)
	if err != nil {
		if errcode.Of(err) != errcode.Internal || strings.Contains(err.Error(), "exit status") {
			return nil, pdfError(err)
		}
		return nil, err
	}
	m := rePages.FindSubmatch(info)
	if m == nil {
		return nil, errcode.New(errcode.InvalidDocument, "the PDF's page count is unreadable")
	}
	n, _ := strconv.Atoi(string(m[1]))
	if n == 0 {
		return nil, errcode.New(errcode.InvalidDocument, "the PDF has no pages")
	}
	if lim.MaxPages > 0 && n > lim.MaxPages {
		return nil, errcode.New(errcode.TooManyPages, "the PDF has %d pages, over the limit of %d", n, lim.MaxPages)
	}
	sizes, err := run(ctx, lim, "pdfinfo", "-f", "1", "-l", strconv.Itoa(n), path)
	if err != nil {
		return nil, pdfError(err)
	}
	p := &PDF{dir: tmp, path: path, data: data, lim: lim, sizes: make([][2]int, n), points: make([][2]float64, n), dpi: make([]int, n), tooBig: make([]error, n)}
	rot := map[int]int{}
	for _, r := range reRot.FindAllSubmatch(sizes, -1) {
		i, _ := strconv.Atoi(string(r[1]))
		rot[i], _ = strconv.Atoi(string(r[2]))
	}
	found := 0
	for _, s := range reSize.FindAllSubmatch(sizes, -1) {
		i, _ := strconv.Atoi(string(s[1]))
		if i < 1 || i > n {
			continue
		}
		wpt, _ := strconv.ParseFloat(string(s[2]), 64)
		hpt, _ := strconv.ParseFloat(string(s[3]), 64)
		if rot[i]%180 == 90 {
			wpt, hpt = hpt, wpt
		}
		dpi, w, h, err := fitDPI(wpt, hpt, lim, i)
		if errcode.Of(err) == errcode.TooManyPixels {
			// Refused only if it is rendered: a page read from its text
			// needs no pixels. Its boxes are in pixels at MinDPI.
			p.tooBig[i-1] = err
			dpi = MinDPI
			w, h = int(math.Ceil(wpt/72*MinDPI)), int(math.Ceil(hpt/72*MinDPI))
		} else if err != nil {
			return nil, err
		}
		p.sizes[i-1], p.dpi[i-1], p.points[i-1] = [2]int{w, h}, dpi, [2]float64{wpt, hpt}
		found++
	}
	if found != n {
		return nil, errcode.New(errcode.InvalidDocument, "the PDF's page sizes are unreadable")
	}
	return p, nil
}

// MinDPI is the lowest resolution a PDF page is rendered at: under it text
// is unreadable, so a page that would need less to stay within the pixel
// limit (a page-size bomb) is refused with too_many_pixels when it is to
// be rendered (Page); read from its own text it needs no pixels.
const MinDPI = 70

// fitDPI lowers the DPI of a page of wpt×hpt points until it stays within
// the pixel limit; a page that would need under MinDPI is refused.
func fitDPI(wpt, hpt float64, lim Limits, page int) (dpi, w, h int, err error) {
	if wpt <= 0 || hpt <= 0 {
		return 0, 0, 0, errcode.New(errcode.InvalidDocument, "page %d has no size", page)
	}
	dpi = lim.DPI
	px := func(d int) (int, int) {
		return int(math.Ceil(wpt / 72 * float64(d))), int(math.Ceil(hpt / 72 * float64(d)))
	}
	w, h = px(dpi)
	if lim.MaxPixelsPerPage > 0 && int64(w)*int64(h) > lim.MaxPixelsPerPage {
		dpi = int(math.Floor(math.Sqrt(float64(lim.MaxPixelsPerPage) / (wpt / 72 * hpt / 72))))
		for dpi > 0 {
			if w, h = px(dpi); int64(w)*int64(h) <= lim.MaxPixelsPerPage {
				break
			}
			dpi--
		}
		if dpi < MinDPI {
			return 0, 0, 0, errcode.New(errcode.TooManyPixels, "page %d is %.0f×%.0f inches: even at %d DPI it is over the pixel limit", page, wpt/72, hpt/72, MinDPI)
		}
	}
	return dpi, w, h, nil
}

func pdfError(err error) error {
	msg := err.Error()
	switch {
	case errcode.Of(err) == errcode.Timeout:
		return err
	case strings.Contains(msg, "Incorrect password"), strings.Contains(msg, "encrypted"):
		return errcode.Wrap(errcode.EncryptedPDF, err, "the PDF is encrypted; Lector needs it without a password")
	case strings.Contains(msg, "Invalid page count 0"), strings.Contains(msg, "Wrong page range given"):
		// poppler's pdfinfo on a page tree with no pages fails so (its
		// default page range, 1 to the count, is empty).
		return errcode.Wrap(errcode.InvalidDocument, err, "the PDF has no pages")
	default:
		return errcode.Wrap(errcode.InvalidDocument, err, "the PDF is corrupt or unreadable")
	}
}

// NumPages returns the page count.
func (p *PDF) NumPages() int { return len(p.sizes) }

// PageSize returns page i's size in pixels at its DPI.
func (p *PDF) PageSize(i int) (int, int) { return p.sizes[i][0], p.sizes[i][1] }

// PageBits is 8: pages are rendered in 8-bit gray (pdftoppm -gray).
func (p *PDF) PageBits(int) int { return 8 }

// DPI returns the resolution page i is rendered at.
func (p *PDF) DPI(i int) int { return p.dpi[i] }

// Page renders page i as a viewer shows it (its CropBox, turned by its
// /Rotate) into workspace as 8-bit grayscale PGM and returns it. PGM, not
// PNG: Debian's pdftoppm writes -gray -png as an RGB PNG, and compressing
// a noisy 300-dpi page costs about a CPU second, where PGM costs nothing
// to write or read (docs/BENCHMARKS.md).
func (p *PDF) Page(ctx context.Context, i int, workspace string) (engine.Image, error) {
	if p.tooBig[i] != nil {
		return engine.Image{}, p.tooBig[i]
	}
	base := filepath.Join(workspace, fmt.Sprintf("page-%05d", i+1))
	n := strconv.Itoa(i + 1)
	if _, err := run(ctx, p.lim, "pdftoppm", "-r", strconv.Itoa(p.dpi[i]), "-f", n, "-l", n, "-cropbox", "-gray", "-singlefile", p.path, base); err != nil {
		if ctx.Err() != nil {
			return engine.Image{}, ctx.Err()
		}
		if errcode.Of(err) == errcode.Timeout {
			return engine.Image{}, err
		}
		return engine.Image{}, errcode.Wrap(errcode.InvalidDocument, err, "rendering page %d failed", i+1)
	}
	data, err := os.ReadFile(base + ".pgm")
	os.Remove(base + ".pgm")
	if err != nil {
		return engine.Image{}, errcode.Wrap(errcode.InvalidDocument, err, "rendering page %d produced nothing", i+1)
	}
	w, h := p.PageSize(i)
	return engine.Image{Number: i + 1, Width: w, Height: h, Format: "pgm", Data: data,
		DPI: p.dpi[i], PDFPage: i + 1}, nil
}

// Close removes the PDF's private directory.
func (p *PDF) Close() error { return os.RemoveAll(p.dir) }
