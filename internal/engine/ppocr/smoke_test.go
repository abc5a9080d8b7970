package ppocr

import (
	"path/filepath"
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	h := testHandle(t)
	for _, f := range []string{"scene/images/cnocr-multi-line_cn1.png", "scene/images/easyocr-chinese.jpg", "pages/linn.png"} {
		matches, _ := filepath.Glob(filepath.Join(evalDir(t), f))
		if len(matches) == 0 {
			continue
		}
		start := time.Now()
		p := process(t, h, readFile(t, matches[0]), nil)
		t.Logf("%s: %v rot %d\n%s", f, time.Since(start), p.Rotation, p.Text())
	}
}
