package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/memory/memtest"
	"github.com/lector-ocr/lector/internal/model"
	"github.com/lector-ocr/lector/internal/result"
	"github.com/lector-ocr/lector/internal/server"
)

// TestStructureModelFromOutside: right after start the structure model is
// not loaded; structure tasks load it; six submitted at once never run
// more than two predictions at a time although lanes and workers would
// allow four; after its keep-alive it is unloaded.
func TestStructureModelFromOutside(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	ts := startServer(t, "--cpu-lanes", "4", "--workers", "8")
	ctx := t.Context()
	m, err := ts.client.Models(ctx)
	if err != nil || len(m.Loaded) != 0 {
		t.Fatalf("at start: %+v %v", m, err)
	}
	img, err := os.ReadFile(filepath.Join(evalDir(t), "lines", "010001.bin.png"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 6 {
		task, err := ts.client.Submit(ctx, "line.png", bytes.NewReader(img), api.Options{Pipeline: "structure", KeepAlive: "1s"})
		if err != nil {
			t.Fatal(err)
		}
		if task.Model != "structure:default" {
			t.Fatalf("model %q", task.Model)
		}
		ids = append(ids, task.ID)
	}
	for _, id := range ids {
		fin, err := ts.client.Wait(ctx, id)
		if err != nil || fin.Status != "succeeded" {
			t.Fatalf("%s: %+v %v", id, fin, err)
		}
	}
	var md bytes.Buffer
	if err := ts.client.Result(ctx, ids[0], "md", &md); err != nil || !strings.Contains(md.String(), "Efficient") {
		t.Fatalf("md: %q %v", md.String(), err)
	}
	var sys struct {
		Semaphores []struct {
			Pipeline string `json:"pipeline"`
			Limit    int    `json:"limit"`
			Peak     int    `json:"peak"`
		} `json:"semaphores"`
	}
	if err := ts.client.System(ctx, &sys); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range sys.Semaphores {
		if s.Pipeline == "structure" {
			found = true
			if s.Limit != 2 || s.Peak != 2 {
				t.Fatalf("structure semaphore: limit %d, peak %d; want at most (and here exactly) 2 at once", s.Limit, s.Peak)
			}
		}
	}
	if !found {
		t.Fatal("no structure semaphore in /v1/system")
	}
	ts.sig.unloaded.Wait(t, func(r model.UnloadRecord) bool {
		return r.Model == "structure:default" && r.Reason == model.ReasonIdle
	})
	if m, err := ts.client.Models(ctx); err != nil || len(m.Loaded) != 0 {
		t.Fatalf("after the keep-alive: %+v %v", m, err)
	}
}

// TestTableQualityTEDS runs `lector eval tables` — what `lector ocr
// --pipeline structure` does, no hint that an image is a table — on the
// PubTabNet examples (all 20) and on every eighth of the ICDAR 2013 tables
// (14 of 105: the whole set takes over a minute of two lanes without the
// race detector, which slows the layout analysis's pixel loops several
// times), and holds the pipeline to bounds it meets with margin, about
// the noise (the standard error of the set's mean: 0.028 and 0.010 TEDS;
// the figures are in docs/BENCHMARKS.md).
func TestTableQualityTEDS(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	for _, set := range []struct {
		dir             string
		every, images   int
		teds, structure float64
		minFound        int
	}{
		{"tables", 1, 20, 0.78, 0.91, 20},         // scores 0.809 / 0.939, 20 found
		{"tables-icdar13", 8, 14, 0.84, 0.87, 13}, // scores 0.874 / 0.898, 14 found
	} {
		t.Run(set.dir, func(t *testing.T) {
			t.Parallel()
			htmlDir := t.TempDir()
			// With the ppocr directory, as make setup installs it: small
			// print is re-read by PP-OCR's recogniser.
			out, stderr, err := run(t, ppocrEnv(), "eval", "tables", "--json", "--every", strconv.Itoa(set.every), "--html", htmlDir, filepath.Join(evalDir(t), set.dir))
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			var ev TableEval
			if err := json.Unmarshal([]byte(out), &ev); err != nil {
				t.Fatal(err)
			}
			if len(ev.Images) != set.images || ev.TablesExpected != set.images {
				t.Fatalf("%d images scored, %d tables expected, want %d", len(ev.Images), ev.TablesExpected, set.images)
			}
			for _, im := range ev.Images {
				if im.Error != "" {
					t.Errorf("%s: %s", im.File, im.Error)
				}
				page, err := os.ReadFile(filepath.Join(htmlDir, im.File+".html"))
				if err != nil || !strings.Contains(string(page), "<li>") || im.Found != strings.Contains(string(page), "<table>") {
					t.Errorf("--html: %s has not the table read (found: %v) and annotated cells (%v)", im.File, im.Found, err)
				}
			}
			t.Logf("%s: mean TEDS %.3f, structure-only %.3f, tables %d/%d, rows %d/%d", ev.Set, ev.MeanTEDS, ev.MeanStructure, ev.TablesFound, ev.TablesExpected, ev.RowsFound, ev.RowsExpected)
			if ev.MeanStructure < set.structure || ev.MeanTEDS < set.teds || ev.TablesFound < set.minFound {
				t.Fatalf("mean TEDS %.3f (bound %.2f), structure-only %.3f (bound %.2f), tables found %d (bound %d)",
					ev.MeanTEDS, set.teds, ev.MeanStructure, set.structure, ev.TablesFound, set.minFound)
			}
		})
	}
}

// TestStructureOnEvalPages checks reading order and block types on the
// evaluation pages: the brochure's title, its sections in order with its
// list, and the tables and page number of the PDFs.
func TestStructureOnEvalPages(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	dir := evalDir(t)
	files := []string{filepath.Join(dir, "pages", "linn.png"), filepath.Join(dir, "pdfs", "ag-energy-round-up-2017-02-24.pdf"), filepath.Join(dir, "pdfs", "background-checks.pdf")}
	out, stderr, err := run(t, testEnv(), append([]string{"ocr", "--pipeline", "structure", "--format", "json", "--jobs", "2"}, files...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	docs := map[string]ocrOutput{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r ocrOutput
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		docs[filepath.Base(r.File)] = r
	}
	text := func(b result.Block) string { return b.Words() }

	linn := docs["linn.png"].Pages[0].Blocks
	if linn[0].Type != result.BlockTitle || !strings.Contains(text(linn[0]), "LinnSequencer") {
		t.Fatalf("first block %s %q, want the title", linn[0].Type, text(linn[0]))
	}
	var headings []string
	items := 0
	for i, b := range linn {
		if b.Order != i {
			t.Fatalf("block %d has order %d", i, b.Order)
		}
		switch b.Type {
		case result.BlockHeading:
			headings = append(headings, text(b))
		case result.BlockListItem:
			items++
		}
	}
	want := []string{"Recording a Sequence", "Editing", "Creating a Song", "Composition Without Compromise", "Additional Features"}
	j := 0
	for _, h := range headings {
		if j < len(want) && h == want[j] {
			j++
		}
	}
	if j != len(want) || items < 8 {
		t.Fatalf("headings %q (want %q in this order), %d list items (want at least 8)", headings, want, items)
	}
	for name, minRows := range map[string]int{"ag-energy-round-up-2017-02-24.pdf": 20, "background-checks.pdf": 8} {
		found := false
		for _, b := range docs[name].Pages[0].Blocks {
			if b.Type == result.BlockTable && b.Table != nil && b.Table.Rows >= minRows && strings.HasPrefix(b.Table.HTML, "<table>") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no table of at least %d rows", name, minRows)
		}
	}
	last := docs["background-checks.pdf"].Pages[0].Blocks
	if b := last[len(last)-1]; b.Type != result.BlockPageNumber || !strings.Contains(text(b), "Page 1") {
		t.Errorf("background-checks: last block %s %q, want the page number", b.Type, text(b))
	}
}

// TestStructureFigureAssets: a structure task's figure is stored as an
// asset that its Markdown and HTML link and the API serves.
func TestStructureFigureAssets(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	ts := startServer(t)
	ctx := t.Context()
	img := image.NewGray(image.Rect(0, 0, 1200, 1000))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for y := 200; y < 800; y++ {
		for x := 200; x < 1000; x++ {
			img.Pix[y*img.Stride+x] = uint8(128 + 100*((x/20+y/30)%2))
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	task, err := ts.client.Submit(ctx, "chart.png", &buf, api.Options{Pipeline: "structure"})
	if err != nil {
		t.Fatal(err)
	}
	if fin, err := ts.client.Wait(ctx, task.ID); err != nil || fin.Status != "succeeded" {
		t.Fatalf("%+v %v", fin, err)
	}
	var md, html bytes.Buffer
	if err := ts.client.Result(ctx, task.ID, "md", &md); err != nil || !strings.Contains(md.String(), "![Figure](page1-figure1.png)") {
		t.Fatalf("md %q %v", md.String(), err)
	}
	if err := ts.client.Result(ctx, task.ID, "html", &html); err != nil || !strings.Contains(html.String(), `<img src="page1-figure1.png"`) {
		t.Fatalf("html %q %v", html.String(), err)
	}
	resp, err := http.Get(ts.base + "/v1/tasks/" + task.ID + "/assets/page1-figure1.png")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("asset: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if _, err := png.Decode(resp.Body); err != nil {
		t.Fatalf("asset is not a PNG: %v", err)
	}
	// The HTML's link, resolved against the URL the HTML is served at,
	// reaches the figure too.
	at, _ := url.Parse(ts.base + "/v1/tasks/" + task.ID + "/result?format=html")
	link, _ := url.Parse("page1-figure1.png")
	byName, err := http.Get(at.ResolveReference(link).String())
	if err != nil {
		t.Fatal(err)
	}
	defer byName.Body.Close()
	if byName.StatusCode != 200 || byName.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("the HTML's figure link %s: %d %s", at.ResolveReference(link), byName.StatusCode, byName.Header.Get("Content-Type"))
	}
	if err := ts.client.Result(ctx, task.ID, "json", io.Discard); err != nil {
		t.Fatal(err)
	}
	resp2, _ := http.Get(ts.base + "/v1/tasks/" + task.ID + "/assets/nope.png")
	if resp2.StatusCode != 404 {
		t.Fatalf("unknown asset: %d", resp2.StatusCode)
	}
	resp2.Body.Close()
}

// TestStructureModelEvictedUnderPressure: the structure model, loaded and
// idle, is evicted like any other model when memory is short. A server in a
// 1 GiB memory cgroup reads a structure task (the model loads and stays for
// its keep-alive); then comes a task whose estimate (a synthetic model)
// exceeds what is free under the critical threshold by a third of what the
// structure runner added: admission evicts the idle structure runner to
// make room (reason pressure), its process exits, and the task runs.
func TestStructureModelEvictedUnderPressure(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	cg := memtest.New(t, 1<<30)
	cmd := cg.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--enable-synthetic", "--critical-wait", "5s")
	cmd.Env = append(cmd.Env, TestMainEnv+"=1", "OMP_THREAD_LIMIT=1")
	p := startCommand(t, cmd)
	ctx := t.Context()

	img, err := os.ReadFile(filepath.Join(evalDir(t), "lines", "010001.bin.png"))
	if err != nil {
		t.Fatal(err)
	}
	before, err := cg.Usage()
	if err != nil {
		t.Fatal(err)
	}
	task, err := p.client.Submit(ctx, "line.png", bytes.NewReader(img), api.Options{Pipeline: "structure"})
	if err != nil {
		t.Fatal(err)
	}
	if fin, err := p.client.Wait(ctx, task.ID); err != nil || fin.Status != "succeeded" {
		t.Fatalf("structure task: %+v %v", fin, err)
	}
	m, err := p.client.Models(ctx)
	if err != nil || len(m.Loaded) != 1 || m.Loaded[0].Model != "structure:default" {
		t.Fatalf("after the structure task: %+v %v", m, err)
	}
	inst := m.Loaded[0]
	var sys server.SystemView
	if err := p.client.System(ctx, &sys); err != nil {
		t.Fatal(err)
	}
	// Read the cgroup now (/v1/system shows the monitor's last poll). What
	// the runner adds to the cgroup's working set is the growth over the
	// task (its traineddata is file cache, not counted).
	after, err := cg.Usage()
	if err != nil || after.Total != 1<<30 {
		t.Fatalf("the cgroup's usage: %+v %v", after, err)
	}
	grew := after.Used - before.Used
	if after.Used < before.Used || grew < 24<<20 {
		t.Fatalf("the structure task grew the cgroup from %d to %d bytes: too little to make room with", before.Used, after.Used)
	}
	limit := uint64(sys.Thresholds.Critical * float64(after.Total))
	need := (limit - after.Used + grew/3) >> 20
	t.Logf("used %d MiB before the structure task, %d MiB after, of %d under critical: a %d MiB task", before.Used>>20, after.Used>>20, limit>>20, need)

	big, err := p.client.Submit(ctx, "page.png", bytes.NewReader(grayPNG(t, 200, 100)), api.Options{Model: fmt.Sprintf("synthetic:%dMiB", need)})
	if err != nil {
		t.Fatal(err)
	}
	p.logs.waitFor(t, 0, `msg="model unloaded" model=structure:default.*reason=pressure`)
	waitGone(t, inst.Pid)
	if fin, err := p.client.Wait(ctx, big.ID); err != nil || fin.Status != "succeeded" {
		t.Fatalf("the %d MiB task: %+v %v", need, fin, err)
	}
	if n := cg.OOMKills(); n != 0 {
		t.Fatalf("%d processes OOM-killed in the cgroup", n)
	}
}

// TestStructureFigureFilesPerOutput: two inputs written as HTML into one
// directory each link a figure file named after their own output, both
// written, each holding its own input's figure (trial15: both linked
// page1-figure1.png and the second overwrote the first); the <title> is the
// input's name. Written to standard output, the HTML carries the figure as
// a data: URI, as no file is written beside it.
func TestStructureFigureFilesPerOutput(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	dir := t.TempDir()
	chart := func(name string, period int) string {
		img := image.NewGray(image.Rect(0, 0, 1200, 1000))
		for i := range img.Pix {
			img.Pix[i] = 255
		}
		for y := 200; y < 800; y++ {
			for x := 200; x < 1000; x++ {
				img.Pix[y*img.Stride+x] = uint8(128 + 100*((x/period+y/30)%2))
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := chart("dot.png", 20), chart("dot2.png", 50)
	out := filepath.Join(dir, "out") + string(filepath.Separator)
	if _, stderr, err := run(t, testEnv(), "ocr", "--pipeline", "structure", "--format", "html", a, b, "-o", out); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var figs [2][]byte
	for i, stem := range []string{"dot", "dot2"} {
		html, err := os.ReadFile(filepath.Join(out, stem+".html"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(html), `<img src="`+stem+`-page1-figure1.png"`) || !strings.Contains(string(html), "<title>"+stem+".png</title>") {
			t.Fatalf("%s.html:\n%s", stem, html)
		}
		if figs[i], err = os.ReadFile(filepath.Join(out, stem+"-page1-figure1.png")); err != nil {
			t.Fatal(err)
		}
	}
	if bytes.Equal(figs[0], figs[1]) {
		t.Fatal("both outputs' figure files hold the same image")
	}
	if _, err := os.Stat(filepath.Join(out, "page1-figure1.png")); err == nil {
		t.Fatal("a shared page1-figure1.png was written")
	}
	stdout, stderr, err := run(t, testEnv(), "ocr", "--pipeline", "structure", "--format", "html", a)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, `<img src="data:image/png;base64,`+base64.StdEncoding.EncodeToString(figs[0])+`"`) {
		t.Fatalf("standard output's HTML does not embed the figure:\n%.400s", stdout)
	}
}
