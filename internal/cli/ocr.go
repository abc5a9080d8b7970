package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/admission"
	"github.com/lector-ocr/lector/internal/config"
	"github.com/lector-ocr/lector/internal/document"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/render"
	"github.com/lector-ocr/lector/internal/result"
	"github.com/lector-ocr/lector/internal/task"
)

// ocrOutput is one file's JSON result.
type ocrOutput struct {
	File      string          `json:"file"`
	Schema    string          `json:"schema,omitempty"`
	Pages     []*result.Page  `json:"pages,omitempty"`
	Resources *task.Resources `json:"resources,omitempty"`
	Error     *lector.Error   `json:"error,omitempty"`
	pdf       []byte          // the searchable PDF
}

// runOCR runs the runtime in-process on files: no server, no database.
func runOCR(ctx context.Context, io IO, args []string) error {
	fs := flag.NewFlagSet("ocr", flag.ContinueOnError)
	modelName := fs.String("model", "tesseract:eng", "model to run")
	pipeline := fs.String("pipeline", "ocr", "pipeline: ocr or structure")
	format := fs.String("format", "", "output format: json, txt, md, html, hocr or pdf (default: from -o's extension, else json)")
	out := fs.String("o", "", "output file (one input) or directory (several); default standard output")
	dev := fs.String("device", "auto", "device: auto, cpu or cuda:N")
	jobs := fs.Int("jobs", 1, "files processed at once")
	priority := fs.String("priority", "normal", "interactive, normal or batch")
	nvmlPath := fs.String("nvml-library", "", "path of libnvidia-ml.so.1")
	pdfText := fs.String("pdf-text", "", "PDF pages with text of their own: skip (read them from their text, the structure pipeline analysing their layout over those words; the default), redo (OCR pages whose text is an earlier OCR layer, replacing it) or force (OCR every page)")
	verbose := fs.Bool("verbose", false, "log the runtime's work (loads, runners, tasks) on standard error")
	fs.Usage = func() { ocrUsage(fs) }
	cfg, err := parseConfig(fs, io, args)
	if err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		return &UsageError{"ocr: no input files"}
	}
	if *format == "" {
		*format = "json"
		if f := formatFromExt(*out); *out != "" && f != "" {
			*format = f
		}
	}
	if _, ok := render.Formats[*format]; !ok {
		return &UsageError{fmt.Sprintf("ocr: format %q is not json, txt, md, html, hocr or pdf", *format)}
	}
	// An output file whose extension names another format is refused
	// rather than written in the wrong format (hOCR, being XHTML, may be
	// named .html).
	if f := formatFromExt(*out); f != "" && f != *format && !(*format == "hocr" && f == "html") && len(files) == 1 && !strings.HasSuffix(*out, string(filepath.Separator)) {
		if fi, err := os.Stat(*out); err != nil || !fi.IsDir() {
			return &UsageError{fmt.Sprintf("ocr: -o %s is a .%s file but --format is %s; name the file .%s or leave --format out (it follows -o's extension)", *out, strings.TrimPrefix(filepath.Ext(*out), "."), *format, *format)}
		}
	}
	if *format == "pdf" && *out == "" && len(fs.Args()) > 0 {
		if isTerminal(os.Stdout) {
			return &UsageError{"ocr: a PDF is not written to a terminal; use -o FILE"}
		}
	}
	pipe, err := lector.ParsePipeline(*pipeline)
	if err != nil {
		return codedUsage("ocr", err)
	}
	modelSet, pipeSet := false, false
	fs.Visit(func(f *flag.Flag) {
		modelSet = modelSet || f.Name == "model"
		pipeSet = pipeSet || f.Name == "pipeline"
	})
	if pipe == lector.PipelineStructure && !modelSet {
		*modelName = "structure:default"
	}
	if err := pipe.CheckModel(*modelName, pipeSet); err != nil {
		return codedUsage("ocr", err)
	}
	textMode, err := lector.ParsePDFText(*pdfText)
	if err != nil {
		return codedUsage("ocr", err)
	}
	if *jobs < 1 {
		return &UsageError{"ocr: --jobs must be at least 1"}
	}
	paths, err := outputPaths(files, *format, *out)
	if err != nil {
		return err
	}
	// A private work directory: a one-shot run never touches a server's.
	work, err := os.MkdirTemp("", "lector-ocr-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(io.Stderr, &slog.HandlerOptions{Level: level}))
	st, err := buildStack(ctx, cfg, io, *nvmlPath, work, log, nil)
	if err != nil {
		return err
	}
	defer st.close(ctx)

	// What the model cannot do is refused before any file is read, with
	// its code, as the per-file errors are.
	for _, check := range []func() error{
		func() error { return st.registry.Validate(*modelName) },
		func() error { return st.registry.CheckFormats(*modelName, []string{*format}) },
		func() error { _, _, err := st.rt.Place(*modelName, *dev); return err },
	} {
		if err := check(); err != nil {
			fmt.Fprintf(io.Stderr, "%s: %s\n", errcode.Of(err), errcode.Message(err))
			return errors.New("no file was read")
		}
	}
	lim := docLimits(cfg)
	opts := ocrOptions(*modelName, pipe, *dev, admission.Priority(*priority), textMode, *format == "pdf")
	progress := newProgress(io.Stderr)
	results := make([]ocrOutput, len(files))
	sem := make(chan struct{}, *jobs)
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			o := opts
			o.Progress = progress.forFile(f)
			results[i] = ocrFile(ctx, st.rt, f, work, lim, o)
		}()
	}
	wg.Wait()

	failed := 0
	for i, r := range results {
		if r.Error != nil {
			failed++
			kept := ""
			if p := keptResultPath(r, paths, i); p != "" {
				kept = "; the recognised text is kept in " + p
			}
			fmt.Fprintf(io.Stderr, "%s: %s: %s%s\n", r.File, r.Error.Code, r.Error.Message, kept)
		} else if line := pagesSummary(r); line != "" {
			fmt.Fprintf(io.Stderr, "%s: %s\n", r.File, line)
		}
	}
	if err := writeOCR(io.Stdout, results, *format, *out, paths); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files failed", failed, len(files))
	}
	return nil
}

// pagesSummary says, for a document some of whose pages were read from
// their own text or whose searchable PDF was not made from its own pages,
// how many pages were read from their text and how many OCR'd, and how
// the PDF was made ("3 pages read from their text, 1 OCR'd; pdf_output
// repaired"); "" otherwise (an image: every page OCR'd, as asked).
func pagesSummary(r ocrOutput) string {
	res := r.Resources
	if res == nil {
		return ""
	}
	notable := res.PDFOutput != "" && res.PDFOutput != document.PDFOriginal
	if res.PagesText == 0 && !notable {
		return ""
	}
	s := fmt.Sprintf("%d of %d pages read from their text, %d OCR'd", res.PagesText, res.PagesText+res.PagesOCR, res.PagesOCR)
	if notable {
		s += "; pdf_output " + res.PDFOutput
	}
	return s
}

// serverFlags are the configuration flags only lector serve uses, left
// out of lector ocr -h (they are accepted, and ignored).
var serverFlags = map[string]bool{
	"listen": true, "database": true, "auth-tokens": true, "insecure-no-auth": true, "workers": true,
	"operators": true, "max-attempts": true, "sync-timeout": true, "shutdown-timeout": true, "max-queued-per-subject": true,
	"max-queued-tasks": true, "retention": true, "retention-interval": true, "heartbeat-interval": true,
	"node-timeout": true,
}

// ocrUsage prints lector ocr's flags without the server's.
func ocrUsage(fs *flag.FlagSet) {
	shown := flag.NewFlagSet("ocr", flag.ContinueOnError)
	shown.SetOutput(fs.Output())
	fs.VisitAll(func(f *flag.Flag) {
		if !serverFlags[f.Name] {
			shown.Var(f.Value, f.Name, f.Usage)
		}
	})
	fmt.Fprintf(fs.Output(), "Usage: lector ocr FILE… [flags]\n")
	shown.PrintDefaults()
}

// ocrOptions are a `lector ocr` run's task options; `lector eval tables`
// runs with the same (ocr's defaults), so that what it scores is what a
// user gets.
func ocrOptions(model string, pipe lector.Pipeline, dev string, prio admission.Priority, textMode lector.PDFText, pdf bool) task.Options {
	return task.Options{Model: model, Pipeline: pipe, Device: dev, Priority: prio, PDFText: textMode, PDF: pdf}
}

// docLimits are the configured input limits.
func docLimits(cfg config.Config) document.Limits {
	l := cfg.Limits
	return document.Limits{MaxBytes: l.MaxInputBytes, MaxPages: l.MaxPages, MaxPixelsPerPage: l.MaxPixelsPerPage, DPI: l.PDFDPI,
		RenderTimeout: l.RenderTimeout, RenderMemory: l.RenderMemory}
}

func ocrFile(ctx context.Context, rt *task.Runtime, file, dir string, lim document.Limits, opts task.Options) ocrOutput {
	fail := func(err error) ocrOutput {
		return ocrOutput{File: file, Error: &lector.Error{Code: string(errcode.Of(err)), Message: errcode.Message(err)}}
	}
	data, err := readLimited(file, lim.MaxBytes)
	if err != nil {
		return fail(err)
	}
	doc, err := document.Open(ctx, data, lim, dir)
	if err != nil {
		return fail(err)
	}
	defer doc.Close()
	res, err := rt.Run(ctx, doc, opts)
	if err != nil {
		return fail(err)
	}
	out := ocrOutput{File: file, Schema: render.Schema, Pages: res.Pages, Resources: &res.Resources, pdf: res.PDF}
	if e := res.Resources.PDFError; e != nil && opts.PDF {
		// The PDF asked for was not made: the file failed, but its pages
		// were recognised and are kept (writeOCR writes them as JSON).
		out.Error = &lector.Error{Code: e.Code, Message: e.Message}
	}
	return out
}

func readLimited(file string, limit int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidArgument, err, "opening %s", file)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidArgument, err, "reading %s", file)
	}
	if int64(len(data)) > limit {
		return nil, errcode.New(errcode.TooLarge, "%s is over the input limit of %d bytes", file, limit)
	}
	return data, nil
}

func renderOutput(r ocrOutput, format string) ([]byte, error) {
	if format == "json" {
		b, err := json.Marshal(r)
		return append(b, '\n'), err
	}
	var buf bytes.Buffer
	err := render.Write(&buf, format, render.Document{Pages: r.Pages, PDF: r.pdf, Title: filepath.Base(r.File)})
	return buf.Bytes(), err
}

// linkFigures returns r with its figures' links (result.Block.Asset) made
// for where its Markdown or HTML goes: for a file, the figure files beside
// it named after it (out/scan.html links out/scan-page1-figure1.png), so
// that several outputs in one directory never share a figure file; for
// standard output, where no file is written beside it, the image itself as
// a data: URI (RFC 2397). Other formats and blocks are left as they are;
// r's own pages are not changed.
func linkFigures(r ocrOutput, format, path string) ocrOutput {
	if format != "md" && format != "html" {
		return r
	}
	prefix := ""
	if path != "" {
		base := filepath.Base(path)
		prefix = strings.TrimSuffix(base, filepath.Ext(base)) + "-"
	}
	pages := make([]*result.Page, len(r.Pages))
	for i, p := range r.Pages {
		cp := *p
		cp.Blocks = append([]result.Block(nil), p.Blocks...)
		for j := range cp.Blocks {
			b := &cp.Blocks[j]
			if b.Asset == "" || len(b.Image) == 0 {
				continue
			}
			if path == "" {
				b.Asset = "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Image)
			} else {
				b.Asset = prefix + b.Asset
			}
		}
		pages[i] = &cp
	}
	r.Pages = pages
	return r
}

// outputPaths are the files results are written to: none for standard
// output; out itself for one input, unless out is a directory (it exists
// as one or ends in a separator); otherwise one file per input in the
// directory out, named after the input with format's extension in place
// of its own (scan.pdf → scan.txt). Where that name is already another
// input's output, or is an input itself (c.pdf → c.pdf in its own
// folder), the input's whole name is kept (bc.png → bc.png.pdf, bc.tif →
// bc.tif.pdf), then a number added (a/x.png, b/x.png, c/x.png → x.pdf,
// x.png.pdf, x.png-2.pdf). An output that is an input file (the same file, by inode)
// is refused: writing it would destroy the input.
func outputPaths(files []string, format, out string) ([]string, error) {
	if out == "" {
		return nil, nil
	}
	inputs := make([]os.FileInfo, 0, len(files))
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			inputs = append(inputs, fi)
		}
	}
	isInput := func(path string) bool {
		fi, err := os.Stat(path)
		if err != nil {
			return false
		}
		for _, in := range inputs {
			if os.SameFile(fi, in) {
				return true
			}
		}
		return false
	}
	fi, err := os.Stat(out)
	dir := len(files) > 1 || strings.HasSuffix(out, string(filepath.Separator)) || (err == nil && fi.IsDir())
	if !dir {
		if isInput(out) {
			return nil, &UsageError{fmt.Sprintf("ocr: -o %s is the input file; writing it would destroy the input (choose another name)", out)}
		}
		return []string{out}, nil
	}
	used := map[string]bool{}
	paths := make([]string, len(files))
	for i, f := range files {
		base := filepath.Base(f)
		stem := strings.TrimSuffix(base, filepath.Ext(base))
		for n := 0; ; n++ {
			var name string
			switch n {
			case 0:
				name = stem + "." + format
			case 1:
				name = base + "." + format
			default:
				name = fmt.Sprintf("%s-%d.%s", base, n, format)
			}
			p := filepath.Join(out, name)
			if !used[p] && !isInput(p) {
				used[p], paths[i] = true, p
				break
			}
		}
	}
	return paths, nil
}

// writeOCR writes results: to standard output (JSON lines, or text with a
// header per file when several), or each to its path (outputPaths).
func writeOCR(stdout io.Writer, results []ocrOutput, format, out string, paths []string) error {
	if out == "" {
		for _, r := range results {
			if r.Error != nil && format != "json" {
				continue
			}
			if format != "json" && len(results) > 1 {
				fmt.Fprintf(stdout, "==> %s <==\n", r.File)
			}
			b, err := renderOutput(linkFigures(r, format, ""), format)
			if err != nil {
				return err
			}
			if _, err := stdout.Write(b); err != nil {
				return err
			}
		}
		return nil
	}
	if paths[0] != out { // a directory
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
	}
	for i, r := range results {
		if p := keptResultPath(r, paths, i); p != "" {
			b, err := renderOutput(r, "json")
			if err != nil {
				return err
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				return err
			}
			continue
		}
		if r.Error != nil {
			continue
		}
		r = linkFigures(r, format, paths[i])
		b, err := renderOutput(r, format)
		if err != nil {
			return err
		}
		if err := writeAssets(filepath.Dir(paths[i]), r, format); err != nil {
			return err
		}
		if err := os.WriteFile(paths[i], b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// keptResultPath is where a file whose searchable PDF could not be written
// (pdf_not_written: its pages were recognised) has its result written as
// JSON instead, so that a long run's recognition is not lost: its output
// path with .json in place of its extension (scan.ocr.pdf →
// scan.ocr.json). "" for any other result, for standard output (a PDF
// stream gets no JSON in its place), and where that path is the input.
func keptResultPath(r ocrOutput, paths []string, i int) string {
	if r.Error == nil || r.Error.Code != string(errcode.PDFNotWritten) || len(r.Pages) == 0 || i >= len(paths) {
		return ""
	}
	p := strings.TrimSuffix(paths[i], filepath.Ext(paths[i])) + ".json"
	if a, err := os.Stat(p); err == nil {
		if b, err := os.Stat(r.File); err == nil && os.SameFile(a, b) {
			return ""
		}
	}
	return p
}

// writeAssets writes the figure images a Markdown or HTML result links
// (named by linkFigures), beside it.
func writeAssets(dir string, r ocrOutput, format string) error {
	if format != "md" && format != "html" {
		return nil
	}
	for name, data := range render.Assets(render.Document{Pages: r.Pages}) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// progress prints "file: page N/M" on a terminal, for multi-page documents.
type progress struct {
	w      io.Writer
	active bool
	mu     sync.Mutex
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		p.active = isTerminal(f)
	}
	return p
}

func (p *progress) forFile(name string) func(done, total, text int) {
	if !p.active {
		return nil
	}
	return func(done, total, _ int) {
		if total < 2 {
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		end := ""
		if done == total {
			end = "\n"
		}
		fmt.Fprintf(p.w, "\r%s: page %d/%d%s", filepath.Base(name), done, total, end)
	}
}

// formatFromExt maps an output file's extension to a format ("" if none).
func formatFromExt(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".pdf":
		return "pdf"
	case ".txt":
		return "txt"
	case ".md":
		return "md"
	case ".hocr", ".xhtml":
		return "hocr"
	case ".html", ".htm":
		return "html"
	case ".json":
		return "json"
	}
	return ""
}

// isTerminal reports whether f is a terminal (not merely a character device
// such as /dev/null).
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
