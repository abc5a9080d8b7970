package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	pdfapi "github.com/pdfcpu/pdfcpu/pkg/api"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/lector-ocr/lector/internal/api"
)

// screenshotsEnv, set to 1, makes the browser tests write the pages'
// screenshots into docs/screenshots (the README shows them); normal runs
// leave the files alone.
const screenshotsEnv = "LECTOR_SCREENSHOTS"

// newBrowser starts a headless Chromium (Debian's `chromium`, installed by
// make setup) and returns a context driving one tab. No Chromium is a
// failure, not a skip: CI must run these tests.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatal("no Chromium to drive: run `make setup` (it installs Debian's chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900), chromedp.Flag("lang", "en-US"))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// Bounded like the test: a page that never shows what the test waits
	// for fails at the test's deadline with the context's error.
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		bctx, cancel = context.WithDeadline(bctx, dl.Add(-10*time.Second))
		t.Cleanup(cancel)
	}
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return bctx
}

// browse runs browser actions and fails the test with what it was doing.
func browse(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// jsEval evaluates a JavaScript expression in the page (awaiting a promise).
func jsEval[T any](t *testing.T, ctx context.Context, what, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// waitJS waits until the JavaScript expression is truthy: the page's own
// state is the signal, polled every 50 ms (bounded at 3 minutes).
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(3*time.Minute))); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func screenshot(t *testing.T, ctx context.Context, name, sel string) {
	t.Helper()
	if os.Getenv(screenshotsEnv) != "1" {
		return
	}
	var buf []byte
	var err error
	if sel == "" {
		buf, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	} else {
		buf, err = chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sel)))
	}
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// textPage draws two lines of text in the Go font and returns the PNG and
// the ink box (x0, y0, x1, y1 in pixels) of the word "brown".
func textPage(t *testing.T) ([]byte, [4]int) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 1100, 320))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		t.Fatal(err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 56, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		t.Fatal(err)
	}
	d := font.Drawer{Dst: img, Src: image.Black, Face: face, Dot: fixed.P(60, 120)}
	before := d.MeasureString("The quick ").Ceil()
	word := d.MeasureString("brown").Ceil()
	d.DrawString("The quick brown fox")
	d.Dot = fixed.P(60, 230)
	d.DrawString("jumps over the lazy dog")
	// The ink of "brown": its columns, and the rows with dark pixels there.
	box := [4]int{math.MaxInt, math.MaxInt, -1, -1}
	for y := 0; y < 170; y++ {
		for x := 60 + before - 2; x < 60+before+word+2; x++ {
			if img.GrayAt(x, y).Y < 128 {
				box = [4]int{min(box[0], x), min(box[1], y), max(box[2], x+1), max(box[3], y+1)}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), box
}

func iou(a, b [4]float64) float64 {
	ix := max(0, min(a[2], b[2])-max(a[0], b[0]))
	iy := max(0, min(a[3], b[3])-max(a[1], b[1]))
	inter := ix * iy
	union := (a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - inter
	return inter / union
}

// TestWebPageInABrowser drives the page in a real Chromium against a real
// `lector serve` with Tesseract: upload a PDF and an image, follow them to
// succeeded live, see the system page's keep-alive countdown run out and
// the instance go, find a known word's box over the right place on the
// page in the viewer, download the searchable PDF, cancel a running task.
func TestWebPageInABrowser(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	ts := startServer(t, "--enable-synthetic", "--keep-alive", "10s", "--cpu-lanes", "2")
	ctx := newBrowser(t)
	dir := t.TempDir()

	pagePNG, want := textPage(t)
	imgPath := filepath.Join(dir, "fox.png")
	if err := os.WriteFile(imgPath, pagePNG, 0o644); err != nil {
		t.Fatal(err)
	}
	imp, err := pdfapi.Import("form:A5L, pos:c, sc:0.9 rel", 0)
	if err != nil {
		t.Fatal(err)
	}
	var pdf bytes.Buffer
	if err := pdfapi.ImportImages(nil, &pdf, []io.Reader{bytes.NewReader(pagePNG)}, imp, nil); err != nil {
		t.Fatal(err)
	}
	pdfPath := filepath.Join(dir, "fox.pdf")
	if err := os.WriteFile(pdfPath, pdf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	// A file that is not a document is refused in words.
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("just some notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	browse(t, ctx, "opening the page",
		chromedp.Navigate(ts.base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#submit-form")),
		chromedp.WaitVisible(chromedp.CSS("#live.on")), // the event stream is open
		chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{notes}),
		chromedp.Click(chromedp.CSS("#submit-button")))
	waitJS(t, ctx, "the refusal in words", `document.querySelector('#submit-messages li.error')?.textContent.startsWith('notes.txt: This is not an image or PDF that Lector reads')`)

	// Submit both from the page.
	browse(t, ctx, "choosing the documents", chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{pdfPath, imgPath}))
	waitJS(t, ctx, "the chosen files", `document.querySelectorAll('#chosen li').length === 2`)
	// The form ticks exactly what will be asked for: the server's defaults
	// for the pipeline, with the searchable PDF for a PDF input; the
	// structure pipeline's defaults when it is chosen; and a box ticked by
	// hand keeps the others as shown.
	const ticked = `[...document.querySelectorAll('#formats input:checked')].map((b) => b.value).join(',')`
	if got := jsEval[string](t, ctx, "the formats ticked", ticked); got != "json,txt,md,hocr,pdf" {
		t.Errorf("formats ticked for a PDF and an image: %s, want json,txt,md,hocr,pdf", got)
	}
	if got := jsEval[string](t, ctx, "the structure pipeline's formats", `(() => {
		const p = document.querySelector('#pipeline'); p.value = 'structure'; p.dispatchEvent(new Event('change'));
		const r = `+ticked+`; p.value = 'ocr'; p.dispatchEvent(new Event('change')); return r; })()`); got != "json,txt,md,html,pdf" {
		t.Errorf("formats ticked for structure: %s, want json,txt,md,html,pdf", got)
	}
	if got := jsEval[string](t, ctx, "ticking html by hand", `document.querySelector('#formats input[value=html]').click(); `+ticked); got != "json,txt,md,html,hocr,pdf" {
		t.Errorf("formats after ticking html: %s, want json,txt,md,html,hocr,pdf", got)
	}
	screenshot(t, ctx, "submit", "#submit")
	browse(t, ctx, "submitting", chromedp.Click(chromedp.CSS("#submit-button")))
	// Progress to succeeded arrives through the event stream: the page is
	// never reloaded.
	waitJS(t, ctx, "both tasks to succeed", `document.querySelectorAll('#task-rows tr[data-status="succeeded"]').length === 2`)
	ids := jsEval[map[string]string](t, ctx, "reading the rows", `Object.fromEntries([...document.querySelectorAll('#task-rows tr')].map(r => [r.querySelector('a').textContent, r.dataset.id]))`)
	if ids["fox.png"] == "" || ids["fox.pdf"] == "" {
		t.Fatalf("rows: %v", ids)
	}
	for name, id := range ids {
		task, err := ts.client.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(task.Formats, ","); got != "json,txt,md,html,hocr,pdf" {
			t.Errorf("%s was submitted for %s, want the formats the form showed", name, got)
		}
	}
	pages := jsEval[string](t, ctx, "reading the pages done", fmt.Sprintf(`document.querySelector('tr[data-id=%q] .pages').textContent`, ids["fox.pdf"]))
	if strings.TrimSpace(pages) != "1/1" {
		t.Errorf("the PDF's pages: %q, want 1/1", pages)
	}
	screenshot(t, ctx, "tasks", "#list")
	assertControlsNamed(t, ctx, "tasks")
	// At a phone's width the page fits without scrolling sideways (the
	// task table scrolls inside its own box).
	browse(t, ctx, "a phone's width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	waitJS(t, ctx, "the page to fit a phone's width", `window.innerWidth <= 400 && document.documentElement.scrollWidth <= window.innerWidth`)
	// Each task's status and its button are in view, not scrolled away
	// inside the table's box.
	waitJS(t, ctx, "the rows' status and buttons in view", `[...document.querySelectorAll('#task-rows tr')].every((r) =>
		[r.querySelector('.status'), r.querySelector('button')].every((e) => { const b = e.getBoundingClientRect(); return b.width > 0 && b.left >= 0 && b.right <= window.innerWidth; }))
		&& document.querySelector('#list .table-wrap').scrollWidth <= document.querySelector('#list .table-wrap').clientWidth`)
	screenshot(t, ctx, "tasks-phone", "")
	browse(t, ctx, "a desktop's width again", chromedp.EmulateViewport(1280, 900))

	// The system page: the loaded model's keep-alive counts down to zero,
	// then the instance is gone (the server unloaded it), without a reload.
	browse(t, ctx, "opening the system page", chromedp.Navigate(ts.base+"/#/system"))
	row := `#instance-rows tr[data-model="tesseract:eng"]`
	// The countdown reads m:ss; its seconds are in data-seconds.
	waitJS(t, ctx, "the loaded model", `/^0:\d\d$/.test(document.querySelector('`+row+` td.countdown')?.textContent) && document.querySelector('`+row+` td.countdown').dataset.seconds`)
	if h := jsEval[string](t, ctx, "the device's heading", `document.querySelector('.device[data-device="cpu"] h3').textContent`); h != "cpu" {
		t.Errorf("the CPU's heading reads %q", h)
	}
	waitJS(t, ctx, "the device's memory", `(() => {
		const d = document.querySelector('.device'), fill = d && d.querySelector('.membar .fill');
		return fill && parseFloat(fill.style.width) > 0 && /[\d.]+ [KMGT]iB of [\d.]+ [KMGT]iB used/.test(d.textContent) && !d.textContent.includes('NaN');
	})()`)
	screenshot(t, ctx, "system", "")
	assertControlsNamed(t, ctx, "system")
	jsEval[bool](t, ctx, "recording the countdown", `window.seen = []; setInterval(() => {
		const c = document.querySelector('`+row+` td.countdown'); if (c) window.seen.push(parseFloat(c.dataset.seconds)); }, 50); true`)
	waitJS(t, ctx, "the instance to go", `window.seen.length > 0 && document.querySelector('`+row+`') === null`)
	seen := jsEval[[]float64](t, ctx, "reading the countdown", `window.seen`)
	if len(seen) < 2 || seen[len(seen)-1] > 0.5 || seen[0] <= seen[len(seen)-1] {
		t.Errorf("the countdown showed %v: want it falling to zero", seen)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] > seen[i-1] {
			t.Errorf("the countdown went up: %v", seen)
			break
		}
	}
	m, err := ts.client.Models(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range m.Loaded {
		if in.Model == "tesseract:eng" {
			t.Errorf("the server still has %+v", in)
		}
	}

	// The viewer: the word "brown" has a box over where it was drawn.
	browse(t, ctx, "opening the image's viewer",
		chromedp.Navigate(ts.base+"/#/tasks/"+ids["fox.png"]),
		chromedp.WaitVisible(chromedp.CSS(`rect.word[data-text="brown"]`)))
	waitJS(t, ctx, "the page image", `document.querySelector('.page')?.dataset.loaded === 'true'`)
	geo := jsEval[struct {
		Box   [4]float64 `json:"box"`   // the rect, in page pixels
		Shown [4]float64 `json:"shown"` // where it is on screen, in page pixels from the image's corner
		Size  [2]float64 `json:"size"`
	}](t, ctx, "measuring the word's box", `(() => {
		const r = document.querySelector('rect.word[data-text="brown"]');
		const svg = r.ownerSVGElement, img = svg.querySelector('image');
		r.scrollIntoView({block: 'center'});
		const vb = svg.viewBox.baseVal, ib = img.getBoundingClientRect(), rb = r.getBoundingClientRect();
		const sx = vb.width / ib.width, sy = vb.height / ib.height;
		return {box: [r.x.baseVal.value, r.y.baseVal.value, r.x.baseVal.value + r.width.baseVal.value, r.y.baseVal.value + r.height.baseVal.value],
			shown: [(rb.left - ib.left) * sx, (rb.top - ib.top) * sy, (rb.right - ib.left) * sx, (rb.bottom - ib.top) * sy],
			size: [vb.width, vb.height]};
	})()`)
	wantF := [4]float64{float64(want[0]), float64(want[1]), float64(want[2]), float64(want[3])}
	if geo.Size != [2]float64{1100, 320} {
		t.Errorf("the page's frame is %v, want the image's 1100×320", geo.Size)
	}
	if v := iou(geo.Box, wantF); v < 0.6 {
		t.Errorf("the box of \"brown\" is %v, drawn at %v (IoU %.2f)", geo.Box, wantF, v)
	}
	if v := iou(geo.Shown, wantF); v < 0.6 {
		t.Errorf("the box of \"brown\" is shown at %v over the page, drawn at %v (IoU %.2f)", geo.Shown, wantF, v)
	}
	// Hovering the word (a real mouse move) shows its text and confidence.
	centre := jsEval[[2]float64](t, ctx, "finding the word on screen", `(() => { const b = document.querySelector('rect.word[data-text="brown"]').getBoundingClientRect(); return [b.left + b.width/2, b.top + b.height/2]; })()`)
	browse(t, ctx, "hovering the word", chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, centre[0], centre[1]))
	waitJS(t, ctx, "the word's text and confidence", `/“brown” — confidence \d+%/.test(document.querySelector('.word-info').textContent)`)
	screenshot(t, ctx, "viewer", "")
	assertControlsNamed(t, ctx, "viewer")
	// The keyboard reaches the words too: focus the text, arrow to "brown".
	browse(t, ctx, "moving the mouse away", chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 2, 2))
	waitJS(t, ctx, "no word lit", `document.querySelectorAll('rect.word.hot').length === 0`)
	browse(t, ctx, "focusing the page's text", chromedp.Focus(chromedp.CSS(".page-text")),
		chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight))
	waitJS(t, ctx, "the third word lit by the keyboard", `document.querySelectorAll('rect.word.hot').length === 1 && document.querySelector('rect.word.hot').dataset.text === 'brown' && /“brown”/.test(document.querySelector('.word-info').textContent)`)

	// The PDF's viewer: download the searchable PDF as a person would.
	downloads := filepath.Join(dir, "downloads")
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	browse(t, ctx, "opening the PDF's viewer",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: ptrTo(true)})
			return err
		}),
		chromedp.Navigate(ts.base+"/#/tasks/"+ids["fox.pdf"]),
		chromedp.WaitVisible(chromedp.CSS(`a[data-format="pdf"]`)),
		chromedp.WaitVisible(chromedp.CSS(`rect.word`)))
	// The page image is a PDF page rendered for the viewer: wait for it, so
	// that nothing is in flight when the test checks the node is idle.
	waitJS(t, ctx, "the PDF's page image", `document.querySelector('.page')?.dataset.loaded === 'true'`)
	// The page image is not kept by the browser (it would outlive a
	// logout).
	if cc := jsEval[string](t, ctx, "the page image's caching", `fetch('/v1/tasks/`+ids["fox.pdf"]+`/pages/1').then((r) => r.headers.get('Cache-Control'))`); cc != "private, no-store" {
		t.Errorf("page image Cache-Control: %q, want private, no-store", cc)
	}
	begins := chromedp.Events(ctx, browser.DownloadWillBegin)
	browse(t, ctx, "downloading the PDF",
		chromedp.Click(chromedp.CSS(`a[data-format="pdf"]`)))
	for ev, err := range begins {
		if err != nil {
			t.Fatalf("waiting for the download to begin: %v", err)
		}
		if ev.SuggestedFilename != "fox.ocr.pdf" {
			t.Errorf("the searchable PDF downloads as %q, want fox.ocr.pdf", ev.SuggestedFilename)
		}
		break
	}
	var guid string
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("waiting for the download: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			guid = ev.GUID
			break
		}
	}
	got, err := exec.Command("pdftotext", filepath.Join(downloads, guid), "-").Output()
	if err != nil {
		t.Fatalf("pdftotext on the download: %v", err)
	}
	if !strings.Contains(string(got), "brown") {
		t.Errorf("the downloaded PDF's text layer is %q, want it to hold \"brown\"", got)
	}

	// Cancel a running task from the list.
	slow, err := ts.client.Submit(t.Context(), "slow.png", bytes.NewReader(grayPNG(t, 1000, 1000)), api.Options{Model: "synthetic:8MiB,t=1h"})
	if err != nil {
		t.Fatal(err)
	}
	sel := fmt.Sprintf(`#task-rows tr[data-id=%q]`, slow.ID)
	// Its viewer says when the results come and offers Cancel.
	browse(t, ctx, "opening the running task's viewer", chromedp.Navigate(ts.base+"/#/tasks/"+slow.ID), chromedp.WaitVisible(chromedp.CSS(`#downloads button.cancel`)))
	waitJS(t, ctx, "the viewer's word on the results", `/results appear here when the task finishes/.test(document.querySelector('#downloads .pending')?.textContent) && document.title === 'slow.png — Lector'`)
	browse(t, ctx, "opening the list", chromedp.Navigate(ts.base+"/#/"), chromedp.WaitVisible(chromedp.CSS(sel+`[data-status="running"] button.cancel`)))
	// A running task's device is not "auto", and its time counts.
	waitJS(t, ctx, "the running task's device and time", `(() => { const r = document.querySelector('`+sel+`'); return r && r.children[4].textContent !== 'auto' && /^\d+:\d\d so far$/.test(r.querySelector('td.time').textContent); })()`)
	// Delete asks first; Cancel does not.
	jsEval[bool](t, ctx, "answering confirmations", `window.asked = []; window.confirm = (m) => { window.asked.push(m); return true; }; true`)
	browse(t, ctx, "canceling", chromedp.Click(chromedp.CSS(sel+` button.cancel`)))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", ts.logs)
		}
	})
	waitJS(t, ctx, "the task to end canceled", `document.querySelector('`+sel+`')?.dataset.status === 'canceled'`)
	// An ended task can be deleted from the list.
	browse(t, ctx, "deleting", chromedp.Click(chromedp.CSS(sel+` button.delete`)))
	waitJS(t, ctx, "the row to go", `document.querySelector('`+sel+`') === null`)
	if asked := jsEval[[]string](t, ctx, "reading the confirmations", `window.asked`); len(asked) != 1 || asked[0] != "Delete slow.png and its results?" {
		t.Errorf("confirmations asked: %q, want one for the delete", asked)
	}
	// Focus moves to the next row's button, not to the page's top.
	if !jsEval[bool](t, ctx, "the focus after deleting", `!!document.activeElement.closest('#task-rows') || document.activeElement.id === 'list-title'`) {
		t.Error("after deleting, the focus is not in the list")
	}
	if title := jsEval[string](t, ctx, "the list's title", `document.title`); title != "Tasks — Lector" {
		t.Errorf("the list's document.title is %q", title)
	}
	var se *api.StatusError
	if _, err := ts.client.Get(t.Context(), slow.ID); !errors.As(err, &se) || se.Status != 404 {
		t.Errorf("the deleted task: %v", err)
	}

	// The system page's operator buttons: pin the idle synthetic instance
	// (its countdown stops), then unload it.
	inst := `#instance-rows tr[data-model="synthetic:8MiB,t=1h"]`
	browse(t, ctx, "opening the system page", chromedp.Navigate(ts.base+"/#/system"), chromedp.WaitVisible(chromedp.CSS(inst+` button.pin`)))
	browse(t, ctx, "pinning", chromedp.Click(chromedp.CSS(inst+` button.pin`)))
	waitJS(t, ctx, "the instance pinned", `document.querySelector('`+inst+` td.countdown')?.textContent === 'pinned'`)
	browse(t, ctx, "unloading", chromedp.Click(chromedp.CSS(inst+` button.unload`)))
	waitJS(t, ctx, "the instance gone", `document.querySelector('`+inst+`') === null`)

	// The structure pipeline's document, as HTML in the viewer: its figure
	// link reaches the figure.
	chart, err := ts.client.Submit(t.Context(), "chart.png", bytes.NewReader(chartPNG(t)), api.Options{Pipeline: "structure", Formats: "json,html"})
	if err != nil {
		t.Fatal(err)
	}
	browse(t, ctx, "opening the structure task's viewer",
		chromedp.Navigate(ts.base+"/#/tasks/"+chart.ID),
		chromedp.WaitVisible(chromedp.CSS(`#tabs button[data-view="document"]`)),
		chromedp.Click(chromedp.CSS(`#tabs button[data-view="document"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#rendered iframe`)))
	waitJS(t, ctx, "the figure inside the document", `(() => {
		const d = document.querySelector('#rendered iframe').contentDocument;
		const img = d && d.querySelector('img[src="page1-figure1.png"]');
		return img && img.complete && img.naturalWidth > 0;
	})()`)
	// Its tables get borders from the page's document stylesheet, which
	// the frame loads under the CSP.
	waitJS(t, ctx, "the document stylesheet in the frame", `(() => {
		const d = document.querySelector('#rendered iframe').contentDocument;
		const l = d && d.querySelector('link[href="/ui/document.css"]');
		return !!(l && l.sheet && l.sheet.cssRules.length > 0);
	})()`)
	// A Markdown-only result is rendered, its text never parsed as HTML.
	md := jsEval[string](t, ctx, "rendering Markdown", `import('/ui/viewer.js').then((m) => m.markdown('# T\n\n| a | b |\n| --- | --- |\n| <i>x</i> | 2 |\n\n- one\n- two\n\n---\n\n![Figure](page1-figure1.png)\n\nend', '/v1/tasks/x/').outerHTML)`)
	if want := `<div class="markdown-doc"><h1>T</h1><table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>&lt;i&gt;x&lt;/i&gt;</td><td>2</td></tr></tbody></table><ul><li>one</li><li>two</li></ul><hr><figure><img src="/v1/tasks/x/page1-figure1.png" alt=""></figure><p>end</p></div>`; md != want {
		t.Errorf("Markdown rendered as\n%s\nwant\n%s", md, want)
	}
	// Backslash escapes (render's, before text that would read as markup)
	// show as the characters they escape, in headings, cells and text.
	md = jsEval[string](t, ctx, "rendering escaped Markdown", `import('/ui/viewer.js').then((m) => m.markdown('## \\#1 \\*not\\*\n\n| \\<b\\> | x \\< y && z |\n| --- | --- |\n| 1 | 2 |\n\n- \\[a\\]\n\n\\_u\\_ a\\\\b', '/').outerHTML)`)
	if want := `<div class="markdown-doc"><h2>#1 *not*</h2><table><thead><tr><th>&lt;b&gt;</th><th>x &lt; y &amp;&amp; z</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody></table><ul><li>[a]</li></ul><p>_u_ a\b</p></div>`; md != want {
		t.Errorf("escaped Markdown rendered as\n%s\nwant\n%s", md, want)
	}
	// An escaped pipe stays in its cell; a table with spans (written as its
	// HTML) keeps its spans and text, nothing else.
	md = jsEval[string](t, ctx, "rendering Markdown's harder tables", `import('/ui/viewer.js').then((m) => m.markdown('| a \\| b | c |\n| --- | --- |\n| 1 | 2 |\n\n<table><tr><td colspan="2" onclick="x()">A<img src="y" onerror="z()"><b>B</b></td></tr><script>w()</script></table>', '/').outerHTML)`)
	if want := `<div class="markdown-doc"><table><thead><tr><th>a | b</th><th>c</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody></table><table><tbody><tr><td colspan="2">AB</td></tr></tbody></table></div>`; md != want {
		t.Errorf("Markdown's harder tables rendered as\n%s\nwant\n%s", md, want)
	}
	waitJS(t, ctx, "the page image", `document.querySelector('.page')?.dataset.loaded === 'true'`)
	// A structure result's table cells are the viewer's words too (boxes
	// and text), a row per line, beside the paragraphs' words.
	cells := jsEval[string](t, ctx, "the viewer's words of a table", `import('/ui/viewer.js').then((m) => JSON.stringify(m.words({ blocks: [
		{ type: 'heading', confidence: 90, paragraphs: [{ lines: [{ words: [{ text: 'Before', box: { x0: 0, y0: 0, x1: 9, y1: 9 }, confidence: 90 }] }] }] },
		{ type: 'table', confidence: 80, table: { rows: 2, cols: 2, cells: [
			{ row: 1, col: 1, text: 'd', box: { x0: 5, y0: 5, x1: 9, y1: 9 } },
			{ row: 1, col: 0, text: '', box: { x0: 0, y0: 5, x1: 4, y1: 9 } },
			{ row: 0, col: 1, text: 'b', box: { x0: 5, y0: 0, x1: 9, y1: 4 } },
			{ row: 0, col: 0, text: 'a', box: { x0: 0, y0: 0, x1: 4, y1: 4 } }] } }] }).map((l) => l.map((w) => w.text + '@' + w.box.x0 + ',' + w.box.y0 + '/' + w.confidence).join(' '))))`)
	if want := `["Before@0,0/90","a@0,0/80 b@5,0/80","d@5,5/80"]`; cells != want {
		t.Errorf("the viewer's words of a table: %s, want %s", cells, want)
	}
	ts.assertQuiescent(t)
}

// chartPNG is a page holding one figure (a checkered block) and no text.
func chartPNG(t *testing.T) []byte {
	t.Helper()
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
	return buf.Bytes()
}

// TestWebPageSessions: with tokens, the page shows nothing until a token is
// given; the session cookie is HTTP-only; subject B sees neither subject
// A's task in the list nor by its URL; no token reaches the log.
func TestWebPageSessions(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	tokens := writeTokens(t, "alice:alice-secret-token", "bob:bob-secret-token")
	ts := startServer(t, "--auth-tokens", tokens)
	ctx := newBrowser(t)
	dir := t.TempDir()
	imgPath := filepath.Join(dir, "alice.png")
	if err := os.WriteFile(imgPath, grayPNG(t, 200, 100), 0o644); err != nil {
		t.Fatal(err)
	}

	browse(t, ctx, "opening the page",
		chromedp.Navigate(ts.base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#login-page")))
	status := jsEval[int](t, ctx, "fetching the tasks", `fetch('/v1/tasks').then(r => r.status)`)
	if status != 401 {
		t.Errorf("/v1/tasks before logging in: %d, want 401", status)
	}
	if !jsEval[bool](t, ctx, "the tasks stay hidden", `document.getElementById('tasks-page').hidden`) {
		t.Error("the task list shows before logging in")
	}
	screenshot(t, ctx, "login", "")
	assertControlsNamed(t, ctx, "login")

	login := func(token, who string) {
		t.Helper()
		browse(t, ctx, "logging in as "+who,
			chromedp.SendKeys(chromedp.CSS("#login-token"), token),
			chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS("#tasks-page")))
		waitJS(t, ctx, "the subject shown", `document.getElementById('who').textContent.includes('`+who+`')`)
	}
	browse(t, ctx, "a wrong token",
		chromedp.SendKeys(chromedp.CSS("#login-token"), "not-a-token"),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#login-error")))
	jsEval[string](t, ctx, "clearing the field", `document.getElementById('login-token').value = ''`)
	login("alice-secret-token", "alice")
	if cookies := jsEval[string](t, ctx, "reading document.cookie", `document.cookie`); cookies != "" {
		t.Errorf("scripts can read the cookie: %q", cookies)
	}
	browse(t, ctx, "submitting as alice",
		chromedp.WaitVisible(chromedp.CSS("#live.on")),
		chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{imgPath}),
		chromedp.Click(chromedp.CSS("#submit-button")))
	waitJS(t, ctx, "alice's task in the list", `document.querySelectorAll('#task-rows tr').length === 1`)
	aliceTask := jsEval[string](t, ctx, "reading the task", `document.querySelector('#task-rows tr').dataset.id`)
	// The API says the same as the page: alice's session sees her task.
	if status := jsEval[int](t, ctx, "alice's task by the API", `fetch('/v1/tasks/`+aliceTask+`').then(r => r.status)`); status != 200 {
		t.Errorf("alice reading her task: %d", status)
	}

	browse(t, ctx, "logging out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-page")))
	if status := jsEval[int](t, ctx, "after logging out", `fetch('/v1/tasks/`+aliceTask+`').then(r => r.status)`); status != 401 {
		t.Errorf("after logging out: %d, want 401", status)
	}
	login("bob-secret-token", "bob")
	waitJS(t, ctx, "bob's empty list", `!document.getElementById('no-tasks').hidden`)
	// At a phone's width "Log out" shares a row with the subject's name.
	browse(t, ctx, "a phone's width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	waitJS(t, ctx, "the header at a phone's width", `(() => {
		const who = document.getElementById('who').getBoundingClientRect(), out = document.getElementById('logout').getBoundingClientRect();
		return window.innerWidth <= 400 && out.width > 0 && out.right <= window.innerWidth && Math.abs((who.top + who.bottom) - (out.top + out.bottom)) < 8 && who.width > 0;
	})()`)
	browse(t, ctx, "a desktop's width again", chromedp.EmulateViewport(1280, 900))
	browse(t, ctx, "bob opening alice's task",
		chromedp.Navigate(ts.base+"/#/tasks/"+aliceTask),
		chromedp.WaitVisible(chromedp.CSS("#viewer-error")))
	msg := jsEval[string](t, ctx, "reading the error", `document.getElementById('viewer-error').textContent`)
	status = jsEval[int](t, ctx, "bob fetching alice's task", `fetch('/v1/tasks/`+aliceTask+`').then(r => r.status)`)
	if !strings.Contains(msg, "no such task") || status != 404 {
		t.Errorf("bob reading alice's task: %q, %d", msg, status)
	}
	for _, p := range []string{"/pages/1", "/result?format=json", "/events", "/assets/page1-figure1.png"} {
		if status := jsEval[int](t, ctx, "bob fetching "+p, `fetch('/v1/tasks/`+aliceTask+p+`').then(r => r.status)`); status != 404 {
			t.Errorf("bob fetching alice's %s: %d, want 404", p, status)
		}
	}
	// Bob's live list hears of his own tasks only: alice submits, then bob;
	// once bob's is listed, alice's (announced first) would be too.
	browse(t, ctx, "bob's list", chromedp.Navigate(ts.base+"/#/"), chromedp.WaitVisible(chromedp.CSS("#live.on")))
	alice, bob := api.NewClient(ts.base), api.NewClient(ts.base)
	alice.Token, bob.Token = "alice-secret-token", "bob-secret-token"
	if _, err := alice.Submit(t.Context(), "alice2.png", bytes.NewReader(grayPNG(t, 200, 100)), api.Options{}); err != nil {
		t.Fatal(err)
	}
	bobTask, err := bob.Submit(t.Context(), "bob.png", bytes.NewReader(grayPNG(t, 200, 100)), api.Options{})
	if err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "bob's task, live", `document.querySelector('#task-rows tr[data-id="`+bobTask.ID+`"]') !== null`)
	if n := jsEval[int](t, ctx, "counting bob's rows", `document.querySelectorAll('#task-rows tr').length`); n != 1 {
		t.Errorf("bob's list shows %d tasks, want his one", n)
	}
	// A request that changes something needs the page's header besides
	// the cookie.
	if status := jsEval[int](t, ctx, "a DELETE without the page's header", `fetch('/v1/tasks/`+aliceTask+`', {method: 'DELETE'}).then(r => r.status)`); status != 403 {
		t.Errorf("DELETE with the cookie and without the header: %d, want 403", status)
	}
	if logs := ts.logs.String(); strings.Contains(logs, "secret-token") {
		t.Error("a token is in the server's log")
	}

	// The server goes away: the system page says it cannot be reached and
	// never that no model is loaded. Back at the same address with the same
	// tokens but no sessions (a restart), the list's event stream is
	// refused (401) and the page shows the login at once.
	browse(t, ctx, "bob's system page", chromedp.Navigate(ts.base+"/#/system"), chromedp.WaitVisible(chromedp.CSS(".device")))
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the server unreachable", `!document.getElementById('system-error').hidden`)
	if jsEval[bool](t, ctx, "reading the instances", `!document.getElementById('no-instances').hidden`) {
		t.Error(`the system page says "No model is loaded." while the server is down`)
	}
	jsEval[string](t, ctx, "back to the list", `location.hash = '#/'`)
	startServer(t, "--auth-tokens", tokens, "--listen", strings.TrimPrefix(ts.base, "http://"))
	waitJS(t, ctx, "the login page after the restart", `!document.getElementById('login-page').hidden && document.getElementById('who').hidden && document.getElementById('tasks-page').hidden`)
}

func ptrTo[T any](v T) *T { return &v }

// TestWebPageFirstLoad measures the page's first load in a fresh browser
// (nothing cached) against a fresh server on loopback: the bytes
// transferred (the document, its files and the API calls it makes, with
// headers) and the time to first contentful paint. It holds the weight to
// a budget; the time is logged, not asserted (docs/BENCHMARKS.md).
func TestWebPageFirstLoad(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ctx := newBrowser(t)
	browse(t, ctx, "opening the page",
		chromedp.Navigate(ts.base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#live.on")),
		chromedp.WaitVisible(chromedp.CSS("#no-tasks")))
	load := jsEval[struct {
		Transferred float64 `json:"transferred"`
		Decoded     float64 `json:"decoded"`
		Requests    int     `json:"requests"`
		FCP         float64 `json:"fcp"`
		DOMReady    float64 `json:"dom_ready"`
		List        float64 `json:"list"`
	}](t, ctx, "reading the timings", `(() => {
		const nav = performance.getEntriesByType('navigation')[0];
		const res = performance.getEntriesByType('resource');
		const fcp = performance.getEntriesByName('first-contentful-paint')[0];
		const list = performance.getEntriesByName('lector-list')[0];
		return {transferred: nav.transferSize + res.reduce((s, r) => s + r.transferSize, 0),
			decoded: nav.decodedBodySize + res.reduce((s, r) => s + r.decodedBodySize, 0),
			requests: 1 + res.length, fcp: fcp ? fcp.startTime : -1, dom_ready: nav.domContentLoadedEventEnd, list: list ? list.startTime : -1};
	})()`)
	t.Logf("first load: %d requests, %.0f bytes transferred (%.0f bytes decoded), first contentful paint %.0f ms, DOMContentLoaded %.0f ms, task list shown %.0f ms",
		load.Requests, load.Transferred, load.Decoded, load.FCP, load.DOMReady, load.List)
	const budget = 48 << 10
	if load.Transferred <= 0 || load.Transferred > budget {
		t.Errorf("the first load transferred %.0f bytes, budget %d", load.Transferred, budget)
	}
	if load.FCP < 0 {
		t.Error("the browser reported no first contentful paint")
	}

	// The API's codes in words, as the page shows them (its own module).
	words := jsEval[map[string]string](t, ctx, "explaining errors", `import('/ui/api.js').then(({ApiError, explain}) => ({
		too_large: explain(new ApiError(413, 'too_large', 'the input is over the limit of 100 bytes', 0)),
		not_a_document: explain(new ApiError(415, 'unsupported_media_type', 'x', 0)),
		encrypted: explain(new ApiError(400, 'encrypted_pdf', 'x', 0)),
		busy: explain(new ApiError(503, 'queue_full', '9 tasks are queued', 7)),
		memory: explain(new ApiError(503, 'insufficient_memory', 'x', 12)),
		unreachable: explain(new TypeError('Failed to fetch')),
		busy_once: explain(new ApiError(503, 'queue_full', '1 task is queued, the limit; try again in 3s', 7)),
		limit: explain(new ApiError(413, 'too_large', 'the input is over the limit of 104857600 bytes', 0)),
		pixels: explain(new ApiError(400, 'too_many_pixels', 'page 2 has 20000×10000 pixels, over the limit of 100000000', 0)),
	}))`)
	for k, want := range map[string]string{
		"busy_once": "The server is busy — try again in 7 s. (1 task is queued, the limit)",
		"limit":     "This file is too large for this server. (the input is over the limit of 100 MiB)",
		"pixels":    "A page of this document is larger than this server accepts. (page 2 has 20000×10000 pixels (200.0 MP), over the limit of 100 MP)",
	} {
		if words[k] != want {
			t.Errorf("%s reads %q, want %q", k, words[k], want)
		}
	}
	for k, want := range map[string]string{
		"too_large":      "This file is too large for this server. (the input is over the limit of 100 bytes)",
		"not_a_document": "This is not an image or PDF that Lector reads",
		"encrypted":      "This PDF is encrypted: remove its password",
		"busy":           "The server is busy — try again in 7 s.",
		"memory":         "The server is busy — try again in 12 s.",
		"unreachable":    "The server could not be reached",
	} {
		if !strings.HasPrefix(words[k], want) {
			t.Errorf("%s reads %q, want it to start %q", k, words[k], want)
		}
	}
}

// controlRoles are the accessibility roles a person operates or reads as
// one thing: each needs a name.
var controlRoles = map[string]bool{"button": true, "link": true, "textbox": true, "combobox": true, "checkbox": true,
	"tab": true, "meter": true, "progressbar": true, "img": true, "table": false}

// assertControlsNamed fails for every control on the page that Chromium's
// accessibility tree (what a screen reader is given) leaves without a name.
func assertControlsNamed(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	res, err := chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		t.Fatalf("reading the accessibility tree: %v", err)
	}
	checked := 0
	for _, n := range res.Nodes {
		if n.Ignored || n.Role == nil {
			continue
		}
		var role, name string
		_ = json.Unmarshal(n.Role.Value, &role)
		if !controlRoles[role] {
			continue
		}
		checked++
		if n.Name != nil {
			_ = json.Unmarshal(n.Name.Value, &name)
		}
		if strings.TrimSpace(name) == "" {
			t.Errorf("%s: a %s has no accessible name", page, role)
		}
	}
	if checked == 0 {
		t.Errorf("%s: no control in the accessibility tree", page)
	}
}

// TestWebPageSaysWhenBusy: with the node's queue full, a submission from
// the page is refused, and the page says when to try again (the API's
// Retry-After, in seconds).
func TestWebPageSaysWhenBusy(t *testing.T) {
	t.Parallel()
	// A short shutdown: the hour-long task is cut off when the test ends.
	ts := startServer(t, "--enable-synthetic", "--max-queued-tasks", "1", "--workers", "1", "--cpu-lanes", "1", "--shutdown-timeout", "1s")
	ctx := newBrowser(t)
	slow := api.Options{Model: "synthetic:4MiB,t=1h"}
	running, err := ts.client.Submit(t.Context(), "a.png", bytes.NewReader(grayPNG(t, 100, 100)), slow)
	if err != nil {
		t.Fatal(err)
	}
	ts.sig.working.Wait(t, func(id string) bool { return id == running.ID }) // it holds the only worker
	if _, err := ts.client.Submit(t.Context(), "b.png", bytes.NewReader(grayPNG(t, 100, 100)), slow); err != nil {
		t.Fatal(err) // queued: the queue is now full
	}
	img := filepath.Join(t.TempDir(), "c.png")
	if err := os.WriteFile(img, grayPNG(t, 100, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	browse(t, ctx, "submitting to a full queue",
		chromedp.Navigate(ts.base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#live.on")),
		chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{img}),
		chromedp.Click(chromedp.CSS("#submit-button")))
	waitJS(t, ctx, "the page to say when to try again", `/^c\.png: The server is busy — try again in [1-9]\d* s\./.test(document.querySelector('#submit-messages li.error')?.textContent || '')`)
	// Said once, and in good English: the server's own "try again" is not
	// repeated.
	if msg := jsEval[string](t, ctx, "reading the message", `document.querySelector('#submit-messages li.error').textContent`); !regexp.MustCompile(`^c\.png: The server is busy — try again in [1-9]\d* s\. \(1 task is queued, the limit\)$`).MatchString(msg) {
		t.Errorf("the busy message reads %q", msg)
	}
}
