// Package ppocr is PaddleOCR's PP-OCR pipeline — text detection (DB),
// direction classification and recognition (CTC) — run by ONNX Runtime in
// Lector's runners, on the CPU or a CUDA device.
//
// Model names are "ppocr:<version>" for a version installed under the ppocr
// directory (scripts/onnxruntime.sh installs v4 into DIR/v4; a v5 would go
// to DIR/v5), or "ppocr:/abs/dir" for a user's own directory of the same
// layout: det.onnx, rec.onnx, keys.txt and optionally cls.onnx. ONNX
// Runtime itself is DIR/onnxruntime/libonnxruntime.so.
//
// Pre- and post-processing follow PaddleOCR's own (tools/infer/predict_*.py
// and ppocr/postprocess): see det.go, rec.go and layout.go.
package ppocr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/result"
)

// Engine is the ppocr engine.
type Engine struct {
	// Dir is the ppocr directory: onnxruntime/ and one directory per
	// model version (see DefaultDir).
	Dir string
	// PageTimeout bounds one page (default 120s).
	PageTimeout time.Duration
	// Cores is how many cores the runner's slots share (default: the CPUs
	// this process may run on). Each slot's runs get Cores/Slots intra-op
	// threads, at least one.
	Cores int
	// GPUMemLimit bounds the CUDA arena of each session (0: a default
	// from the estimate).
	GPUMemLimit uint64
}

var _ engine.Engine = Engine{}

// DefaultDir is where scripts/onnxruntime.sh installs: $LECTOR_DEPS_CACHE/ppocr,
// else $XDG_CACHE_HOME/lector/ppocr, else ~/.cache/lector/ppocr. getenv
// reads the environment ("" when unset).
func DefaultDir(getenv func(string) string) string {
	if d := getenv("LECTOR_DEPS_CACHE"); d != "" {
		return filepath.Join(d, "ppocr")
	}
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "lector", "ppocr")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".cache", "lector", "ppocr")
	}
	return ""
}

// Files of a model directory.
const (
	detFile  = "det.onnx"
	recFile  = "rec.onnx"
	clsFile  = "cls.onnx"
	keysFile = "keys.txt"
)

var versionName = regexp.MustCompile(`^v[0-9]+$`)

// modelDir resolves a model config to its directory.
func (e Engine) modelDir(config string) (string, error) {
	switch {
	case versionName.MatchString(config):
		return filepath.Join(e.Dir, config), nil
	case filepath.IsAbs(config):
		return filepath.Clean(config), nil
	}
	return "", errcode.New(errcode.UnknownModel, "ppocr model %q: not a version (v4) or an absolute directory; installed: %s", config, e.installedList())
}

func (e Engine) libDir() string { return filepath.Join(e.Dir, "onnxruntime") }

// check says why config cannot be loaded, as unknown_model naming what is
// installed.
func (e Engine) check(config string) (string, error) {
	dir, err := e.modelDir(config)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(e.libDir(), libName)); err != nil {
		return "", errcode.New(errcode.UnknownModel, "ppocr:%s: ONNX Runtime is not installed in %s (run make setup, or set --ppocr-dir)", config, e.libDir())
	}
	for _, f := range []string{detFile, recFile, keysFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return "", errcode.New(errcode.UnknownModel, "ppocr:%s is not installed (no %s in %s); installed: %s", config, f, dir, e.installedList())
		}
	}
	return dir, nil
}

// Installed lists the versions installed under the ppocr directory ("v4"),
// none when ONNX Runtime is missing.
func (e Engine) Installed() []string {
	if e.Dir == "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(e.libDir(), libName)); err != nil {
		return nil
	}
	ents, _ := os.ReadDir(e.Dir)
	var out []string
	for _, d := range ents {
		if d.IsDir() && versionName.MatchString(d.Name()) {
			if _, err := e.check(d.Name()); err == nil {
				out = append(out, d.Name())
			}
		}
	}
	sort.Strings(out)
	return out
}

func (e Engine) installedList() string {
	var names []string
	for _, v := range e.Installed() {
		names = append(names, "ppocr:"+v)
	}
	if len(names) == 0 {
		return "none (run make setup)"
	}
	return strings.Join(names, ", ")
}

// Documented memory on the CPU (ONNX Runtime 1.29.0, v4, 2 slots of one
// thread), measured on the 2-core machine of docs/BENCHMARKS.md. The load
// (one session set, shared by the runner's slots) is 160 MiB: the runner's
// resident size after it was 96-101 MiB in thirty bench/calibrate.sh runs,
// and a tiny page's first task peaked at 112-117 MiB with 1, 2, 4, 8 or 16
// lanes; the rest is a margin for machines with more cores (more ONNX
// Runtime threads; not measured). It was 320 MiB, "for machines with more
// slots", and then a 150 dpi A4 page's first task was refused at once in
// a 512 MiB container as more than it could ever hold (517 MiB against a
// 486 MiB critical line) where it peaks at 209-250 (a user's trial;
// TestPPOCRRunsInAFresh512MiBServer). The learner replaces it with the
// loads observed (admission.Fitter). A page's working set,
// with the CPU arena shrunk after each run (runShrink), grew by 180-194
// MiB per work megapixel (Theil–Sen over three runs of bench/calibrate.sh,
// 100 pages; 320 with the arena off, which planned no buffer reuse). What
// a page used beyond that follows its text (line batches, the Go heap's
// garbage): its median was 15-27 MiB and its 90th percentile 52-72 MiB,
// the percentile the learner fits (admission.Fitter), before the runner
// ran on one malloc arena (RunnerEnv); on one arena, over three runs (102
// pages, Theil–Sen slope 191 MiB/MP), the median 15 MiB and the 90th
// percentile 37 (the highest 43; 54 in a fourth run). The fixed part, also
// the fit's floor, is 44 MiB, the least that kept every page of five runs'
// replays (bench/replay) over 0.75 of its use: at the 48 set before the
// arena the evaluation's median was 1.22–1.27, at 44 1.18–1.21 (lowest
// 0.76), at 40 1.14–1.21 (lowest 0.74) (2026-11-30, docs/BENCHMARKS.md).
//
// The per-megapixel part is one reading's, although a page found
// sideways (more of its text running down than across) is read three times — as given, then turned
// 90° and 270° — and one found upside down twice (Page rotation in
// docs/ARCHITECTURE.md): the readings run one after the other, and since
// the padded page is turned rather than copied and glibc's free memory
// goes back before each turned reading (readPage), a turned page costs
// what the upright one does — an 833×344 page 84–88 MiB upright, 88–98
// turned 90°, 180° or 270° (three runs each), where it had cost 146–201
// turned, up to 2.3× (272 MB in a user's trial), and three readings' worth
// was documented (2026-11-30, docs/BENCHMARKS.md, "A turned page's
// memory").
const (
	loadBytes    = 160 << 20
	perPageBytes = 44 << 20
	// perMPBytes is one reading's working set per work megapixel (the
	// calibration above).
	perMPBytes = 192 << 20
	// On a CUDA device (not measured here: no GPU on the machine these
	// figures were taken on; from ONNX Runtime's CUDA provider's usual
	// footprint, to be replaced by measurements and learned per device;
	// per work megapixel, see WorkMegapixels).
	gpuLoadBytes      = 1 << 30   // weights, cuDNN and cuBLAS workspaces, the arena's first chunks
	gpuPerMPBytes     = 256 << 20 // activations of the detector and a line batch
	gpuHostLoadBytes  = 600 << 20 // the CUDA context's host side, ONNX Runtime, the providers' code
	gpuHostPerMPBytes = 40 << 20  // the decoded page and its tensors before upload
)

// fullPixelWeight is what a megapixel of the page as given costs against
// one of the detector's input (see WorkMegapixels): 3 bytes of BGR and the
// page's decoded copies against the detector's activations (~320 MiB per
// input megapixel); linn.png's 8.4 MP beyond its 0.71 MP detector input
// cost ~150 MiB (bench/calibrate.sh without the CPU arena, 2026-11-30).
const fullPixelWeight = 1.0 / 16

// WorkMegapixels (engine.Sizer): a page's working set is the detector's,
// whose input is the page resized to at most 960 pixels on its longer side
// (detSize: a line is kept 64 high, so it may be enlarged), or, for a page
// that may be detected in tiles (planDet), the largest tile where it is
// larger (tiles run one after the other; their number is time, not
// memory) — bounded whatever the page — plus the page's own pixels at fullPixelWeight (its
// decoded copies and the crops). The text lines' batches add a part that
// follows the text's density, not the pixels: it is in the fixed part the
// learner fits.
func (Engine) WorkMegapixels(_ string, p engine.PageShape) float64 {
	if p.Width <= 0 || p.Height <= 0 {
		return 0
	}
	w, h := p.Width, p.Height
	if w+h < 64 { // padSmall
		w, h = max(w, 32), max(h, 32)
	}
	dw, dh := detSize(w, h, detLimitSide)
	det := float64(dw) * float64(dh)
	if plan := planDet(w, h); plan.tileScale > 0 {
		// Tiles are detected one after the other: the largest is the
		// working set, not their sum.
		for _, t := range detTiles(w, h, plan.tileScale) {
			det = max(det, float64(t.w)*float64(t.h))
		}
	}
	return det/1e6 + p.Megapixels()*fullPixelWeight
}

var (
	_ engine.Sizer     = Engine{}
	_ engine.Placer    = Engine{}
	_ engine.Cataloger = Engine{}
	_ engine.Environ   = Engine{}
)

// Estimate returns the documented footprint: on the CPU all host memory;
// on a CUDA device the weights, activations and cuDNN workspace live on the
// device, and the host keeps the CUDA context, ONNX Runtime and the decoded
// page.
func (e Engine) Estimate(config string, kind device.Kind) (engine.Footprint, error) {
	if _, err := e.check(config); err != nil {
		return engine.Footprint{}, err
	}
	if kind == device.CUDA {
		return engine.Footprint{
			Host:   engine.Cost{Load: gpuHostLoadBytes, PerMegapixel: gpuHostPerMPBytes},
			Device: engine.Cost{Load: gpuLoadBytes, PerMegapixel: gpuPerMPBytes},
		}, nil
	}
	return engine.Footprint{Host: engine.Cost{Load: loadBytes, PerPage: perPageBytes, PerMegapixel: perMPBytes}}, nil
}

// RunnerEnv (engine.Environ) limits glibc's malloc to one arena in
// PP-OCR's runner (GLIBC_TUNABLES glibc.malloc.arena_max=1, joined to an
// operator's tunables, whose own arena_max wins: runner.mergeEnv).
// malloc_trim, which the runner calls when idle, returns the free pages
// inside every arena but the top only of the main one, and a thread
// arena's top shrinks on free alone, above M_TRIM_THRESHOLD (1 GiB while
// pages run). ONNX Runtime's threads freed into their own arenas' tops, so
// a runner kept 8–15 MiB in each of two thread heaps after a PDF task,
// started its tasks at 99–195 MiB over bench/calibrate.sh's files (93–187
// with one arena, second highest 118–120 against 167), and a page that
// reused what the one before left measured a fraction of its working set
// (a one-line image 16 MiB after a PDF, 58–67 after small pages): the
// learner's worst noise. With one arena the calibration's lowest ratio is
// 0.87–0.88 (0.76–0.77) and its highest 3.0–3.3 (3.6–6.2), for unchanged
// CPU (18 files, two at once: user 35.2 and 35.9 s against 35.3 and 35.2).
// Tesseract's runners are limited too (tesseract.Engine.RunnerEnv), for
// 7.5 % more CPU with two pages at once. An environment variable rather
// than mallopt: glibc gives a thread its arena on its first malloc, and
// Go's threads allocate (cgo's thread start) before the runner's code
// runs.
func (Engine) RunnerEnv(string, device.Kind) []string {
	return []string{"GLIBC_TUNABLES=glibc.malloc.arena_max=1"}
}

// DeviceKinds: CUDA first where ONNX Runtime's CUDA provider is installed
// (scripts/onnxruntime.sh --gpu), and the CPU everywhere.
func (e Engine) DeviceKinds(config string) []device.Kind {
	if checkCUDA(e.libDir()) == nil {
		return []device.Kind{device.CUDA, device.CPU}
	}
	return []device.Kind{device.CPU}
}

// Catalog lists the installed versions.
func (e Engine) Catalog() []engine.Entry {
	var out []engine.Entry
	for _, v := range e.Installed() {
		var size uint64
		for _, f := range []string{detFile, recFile, clsFile, keysFile} {
			if fi, err := os.Stat(filepath.Join(e.Dir, v, f)); err == nil {
				size += uint64(fi.Size())
			}
		}
		out = append(out, engine.Entry{Model: "ppocr:" + v, Description: "PaddleOCR PP-OCR" + v + " (detection, direction, recognition; Chinese and English) on ONNX Runtime", DiskBytes: size})
	}
	return out
}

// Load opens the three sessions on spec's device; handles share them.
func (e Engine) Load(ctx context.Context, spec engine.Spec) (engine.Model, error) {
	dir, err := e.check(spec.Config)
	if err != nil {
		return nil, err
	}
	cfg, err := e.sessionConfig(spec)
	if err != nil {
		return nil, err
	}
	if cfg.GPU >= 0 {
		if err := checkCUDA(cfg.LibDir); err != nil {
			return nil, err
		}
	}
	if err := initORT(filepath.Join(e.libDir(), libName)); err != nil {
		return nil, errcode.Wrap(errcode.ModelLoadFailed, err, "ppocr")
	}
	dict, err := readDict(filepath.Join(dir, keysFile))
	if err != nil {
		return nil, errcode.Wrap(errcode.ModelLoadFailed, err, "ppocr: reading the dictionary")
	}
	opts, err := newSessionOptions(cfg)
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	m := &model{name: spec.Model, dict: dict, timeout: e.PageTimeout}
	if m.timeout <= 0 {
		m.timeout = 120 * time.Second
	}
	open := func(file string) (*session, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err := newSession(filepath.Join(dir, file), opts, shrinkFor(cfg))
		if err != nil {
			return nil, errcode.Wrap(errcode.ModelLoadFailed, err, "ppocr: loading %s", file)
		}
		return s, nil
	}
	if m.det, err = open(detFile); err != nil {
		return nil, err
	}
	if m.rec, err = open(recFile); err != nil {
		m.Close()
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, clsFile)); err == nil {
		if m.cls, err = open(clsFile); err != nil {
			m.Close()
			return nil, err
		}
	}
	m.recHeight = 48
	if s := m.rec.inShape; len(s) == 4 && s[2] > 0 {
		m.recHeight = int(s[2])
	}
	return m, nil
}

// sessionConfig derives threads and device from spec.
func (e Engine) sessionConfig(spec engine.Spec) (sessionConfig, error) {
	cores := e.Cores
	if cores <= 0 {
		cores = runtime.NumCPU()
	}
	c := sessionConfig{Threads: max(1, cores/max(spec.Slots, 1)), GPU: -1, LibDir: e.libDir()}
	if spec.Device != "" && spec.Device != string(device.CPU) {
		if _, ok := device.GPUIndex(spec.Device); !ok {
			return c, errcode.New(errcode.DeviceUnavailable, "ppocr: unknown device %q", spec.Device)
		}
		// The runner sees only its own GPU: the ordinal is the one inside
		// this process.
		c.GPU = spec.CUDAOrdinal
		c.Threads = 1 // the CPU only feeds the device
		c.GPUMem = e.GPUMemLimit
		if c.GPUMem == 0 {
			c.GPUMem = gpuLoadBytes + uint64(max(spec.Slots, 1))*4*gpuPerMPBytes
		}
	}
	return c, nil
}

// readDict reads the recogniser's characters, one a line, and appends the
// space (use_space_char).
func readDict(path string) ([]rune, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var dict []rune
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		line = strings.TrimSuffix(line, "\r")
		r := []rune(line)
		if len(r) != 1 {
			return nil, fmt.Errorf("%s: line %q is not one character", path, line)
		}
		dict = append(dict, r[0])
	}
	return append(dict, ' '), nil
}

type model struct {
	name          string
	det, rec, cls *session
	dict          []rune
	recHeight     int
	timeout       time.Duration
	// minInput is the narrowest recognition input in pixels (0:
	// recWidth, PaddleOCR's).
	minInput int
}

// narrowest is the narrowest recognition input (minInput or recWidth).
func (m *model) narrowest() int {
	if m.minInput > 0 {
		return m.minInput
	}
	return recWidth
}

func (m *model) NewHandle() (engine.Handle, error) { return &handle{m: m}, nil }

func (m *model) Close() error {
	m.det.close()
	m.rec.close()
	m.cls.close()
	return nil
}

type handle struct{ m *model }

func (h *handle) Close() error { return nil }

// Params understood by Process (the names the Tesseract engine uses for
// the same things).
const (
	OptPSM   = "psm"    // "7" or "13": the image is one text line (recognition only)
	OptNoOSD = "no_osd" // the page is known upright: no rotation search
)

// Process reads one page.
func (h *handle) Process(ctx context.Context, im engine.Image, opts engine.Options) (*result.Page, error) {
	if len(im.Data) == 0 {
		return nil, errcode.New(errcode.InvalidDocument, "page %d has no image data", im.Number)
	}
	img, err := decodePage(im.Data, max(im.TIFFPage, 1))
	if errcode.Of(err) == errcode.InvalidDocument {
		return nil, fmt.Errorf("page %d: %w", im.Number, err)
	}
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidDocument, err, "page %d: the image could not be decoded", im.Number)
	}
	if img.W == 0 || img.H == 0 {
		return nil, errcode.New(errcode.InvalidDocument, "page %d: the image is empty", im.Number)
	}
	if im.Orientation.Mirror {
		img = img.flipX()
	}
	img = img.rotate(im.Orientation.QuarterTurns)
	ctx, cancel := context.WithTimeout(ctx, h.m.timeout)
	defer cancel()
	page := &result.Page{Number: im.Number, Engine: h.m.name, Width: img.W, Height: img.H}
	var lines []line
	switch opts.Param(OptPSM) {
	case "7", "13":
		lines, err = h.readLine(ctx, img)
	default:
		var rot int
		// img is not used past this call: readPage's copy stands for it.
		lines, rot, err = h.readPage(ctx, img, opts.Param(OptNoOSD) == "")
		if rot%180 != 0 {
			page.Width, page.Height = page.Height, page.Width
		}
		page.Rotation = rot
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return nil, errcode.New(errcode.Timeout, "page %d: reading took longer than %s", im.Number, h.m.timeout)
		}
		return nil, fmt.Errorf("page %d: %w", im.Number, err)
	}
	page.Blocks = layout(lines)
	// The page is not turned by its skew (boxes and polygons stay as
	// read): Skew is what Tesseract would have straightened.
	if page.Skew = skewOf(lines); page.Skew != 0 {
		page.SkewNotApplied = true
	}
	return page, nil
}
