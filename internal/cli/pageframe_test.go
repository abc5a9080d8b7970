package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/result"
)

// TestTurnedPageFramesAgree: a page drawn turned 90° counter-clockwise,
// read by ppocr:v4 through the server, comes back with its JSON, page image
// and hOCR in agreed frames. The JSON page is upright (rotation 90, width
// and height swapped) and the page image served for it has that size with
// the JSON's word boxes on its ink; the hOCR's page is the input's size with
// its word boxes on the input's ink and its lines marked textangle 90.
func TestTurnedPageFramesAgree(t *testing.T) {
	t.Parallel()
	dir := ppocrEnv()["LECTOR_PPOCR_DIR"]
	if _, err := os.Stat(filepath.Join(dir, "v4", "rec.onnx")); err != nil {
		t.Fatalf("ppocr:v4 is not installed in %s (make setup): %v", dir, err)
	}
	upright := decodeGray(t, readFile(t, filepath.Join("testdata", "heading-paragraphs-table.png")))
	w, h := upright.Bounds().Dx(), upright.Bounds().Dy()
	// Turned counter-clockwise: upright (x, y) is at (y, w−1−x) of the input.
	in := image.NewGray(image.Rect(0, 0, h, w))
	for y := range h {
		for x := range w {
			in.SetGray(y, w-1-x, upright.GrayAt(x, y))
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, in); err != nil {
		t.Fatal(err)
	}
	p := startProcessEnv(t, t.TempDir(), []string{"LECTOR_PPOCR_DIR=" + dir})
	ctx := t.Context()
	task, err := p.client.Submit(ctx, "turned.png", bytes.NewReader(buf.Bytes()), api.Options{Model: "ppocr:v4"})
	if err != nil {
		t.Fatal(err)
	}
	if fin, err := p.client.Wait(ctx, task.ID); err != nil || fin.Status != "succeeded" {
		t.Fatalf("task: %+v %v", fin, err)
	}
	var js bytes.Buffer
	if err := p.client.Result(ctx, task.ID, "json", &js); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Pages []result.Page `json:"pages"`
	}
	if err := json.Unmarshal(js.Bytes(), &res); err != nil || len(res.Pages) != 1 {
		t.Fatalf("json: %v %s", err, js.String())
	}
	pg := res.Pages[0]
	if pg.Rotation != 90 || pg.Width != w || pg.Height != h {
		t.Fatalf("JSON page %d×%d rotation %d, want %d×%d rotation 90", pg.Width, pg.Height, pg.Rotation, w, h)
	}
	var jsonBoxes []result.Box
	for _, b := range pg.Blocks {
		for _, para := range b.Paragraphs {
			for _, l := range para.Lines {
				for _, wd := range l.Words {
					jsonBoxes = append(jsonBoxes, wd.Box)
				}
			}
		}
	}

	resp, err := http.Get(p.client.Base + "/v1/tasks/" + task.ID + "/pages/1")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("page image: %d %v", resp.StatusCode, err)
	}
	served := decodeGray(t, body)
	if b := served.Bounds(); b.Dx() != pg.Width || b.Dy() != pg.Height {
		t.Fatalf("page image is %v, want the JSON page's %d×%d", b, pg.Width, pg.Height)
	}
	inkOn(t, "JSON boxes on the page image", served, jsonBoxes)

	var hocr bytes.Buffer
	if err := p.client.Result(ctx, task.ID, "hocr", &hocr); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`class="ocr_page" id="page_1" title="bbox 0 0 %d %d;`, h, w); !bytes.Contains(hocr.Bytes(), []byte(want)) {
		t.Fatalf("hOCR page is not the input's %d×%d:\n%.600s", h, w, hocr.String())
	}
	if !bytes.Contains(hocr.Bytes(), []byte("; textangle 90")) {
		t.Errorf("hOCR lines carry no textangle 90:\n%.600s", hocr.String())
	}
	var hocrBoxes []result.Box
	for _, m := range regexp.MustCompile(`class="ocrx_word" id="[^"]+" title="bbox (\d+) (\d+) (\d+) (\d+);`).FindAllStringSubmatch(hocr.String(), -1) {
		v := [4]int{}
		for i := range v {
			v[i], _ = strconv.Atoi(m[i+1])
		}
		hocrBoxes = append(hocrBoxes, result.Box{X0: v[0], Y0: v[1], X1: v[2], Y1: v[3]})
	}
	if len(hocrBoxes) != len(jsonBoxes) {
		t.Fatalf("hOCR has %d words, JSON %d", len(hocrBoxes), len(jsonBoxes))
	}
	inkOn(t, "hOCR boxes on the input", in, hocrBoxes)
}

// inkOn fails unless boxes (at least 10) lie on img's print: inside them
// at least 15 % of the pixels are dark, against under 8 % of the whole image
// (a box put in the wrong frame lands on paper or off the image).
func inkOn(t *testing.T, what string, img *image.Gray, boxes []result.Box) {
	t.Helper()
	dark := func(r image.Rectangle) (n, all int) {
		r = r.Intersect(img.Bounds())
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				if img.GrayAt(x, y).Y < 128 {
					n++
				}
				all++
			}
		}
		return n, all
	}
	var n, all int
	for _, b := range boxes {
		dn, da := dark(image.Rect(b.X0, b.Y0, b.X1, b.Y1))
		n, all = n+dn, all+max(da, (b.X1-b.X0)*(b.Y1-b.Y0))
	}
	pn, pall := dark(img.Bounds())
	if len(boxes) < 10 || all == 0 || float64(n)/float64(all) < 0.15 || float64(pn)/float64(pall) > 0.08 {
		t.Errorf("%s: %d boxes, %.3f of their pixels dark (page %.3f)", what, len(boxes), float64(n)/float64(max(all, 1)), float64(pn)/float64(pall))
	}
	t.Logf("%s: %d boxes, %.3f of their pixels dark (page %.3f)", what, len(boxes), float64(n)/float64(max(all, 1)), float64(pn)/float64(pall))
}
