// Command deskew measures when straightening a page before recognition
// pays: each page (PGM, rendered at 300 dpi) is turned by each angle with
// bilinear interpolation (a skewed scan: the rules and strokes greyed at
// their edges), saved as JPEG q85, and read by Lector's Tesseract engine in
// this process with and without its deskew (the no_deskew option). For
// each it prints the CPU seconds of the recognising thread, the angle
// Tesseract found and applied, and the share of the truth's words missed
// in any order (internal/eval.BagErrors).
//
//	go run ./bench/deskew -angles 0,0.2,0.4,0.7,1,2 PAGE.pgm|png TRUTH.txt [PAGE TRUTH.txt …]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	_ "image/png" // linn.png
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/image/draw"
	"golang.org/x/image/math/f64"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/engine/tesseract"
	"github.com/lector-ocr/lector/internal/eval"
)

func main() {
	angles := flag.String("angles", "0,0.2,0.4,0.7,1,2", "degrees, counter-clockwise")
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 || len(args)%2 != 0 {
		fmt.Fprintln(os.Stderr, "usage: deskew [-angles LIST] PAGE.pgm TRUTH.txt …")
		os.Exit(2)
	}
	runtime.LockOSThread()
	m, err := tesseract.Engine{}.Load(context.Background(), engine.Spec{Model: "tesseract:eng", Config: "eng", Device: "cpu", Slots: 1})
	if err != nil {
		fail(err)
	}
	h, err := m.NewHandle()
	if err != nil {
		fail(err)
	}
	fmt.Println("page angle deskew cpu_s found_skew words_missed")
	for i := 0; i < len(args); i += 2 {
		src := readGray(args[i])
		truth, err := os.ReadFile(args[i+1])
		if err != nil {
			fail(err)
		}
		for _, a := range strings.Split(*angles, ",") {
			deg, err := strconv.ParseFloat(a, 64)
			if err != nil {
				fail(err)
			}
			jpg := skewed(src, deg)
			b := src.Bounds()
			for _, deskew := range []bool{true, false} {
				opts := engine.Options{}
				if !deskew {
					opts.Params = map[string]string{tesseract.OptNoDeskew: "1", tesseract.OptNoOSD: "1"}
				} else {
					opts.Params = map[string]string{tesseract.OptNoOSD: "1"}
				}
				before := threadCPU()
				page, err := h.Process(context.Background(), engine.Image{Number: 1, Width: b.Dx(), Height: b.Dy(), Format: "jpeg", Data: jpg, DPI: 300}, opts)
				if err != nil {
					fail(err)
				}
				cpu := threadCPU() - before
				missed, n := eval.BagErrors(page.Text(), string(truth))
				fmt.Printf("%s %g %v %.2f %.2f %.4f\n", shortName(args[i]), deg, deskew, cpu, page.Skew, float64(missed)/float64(n))
			}
		}
	}
}

func shortName(p string) string {
	p = p[strings.LastIndex(p, "/")+1:]
	return strings.TrimSuffix(strings.TrimSuffix(p, ".pgm"), ".png")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "deskew:", err)
	os.Exit(1)
}

func readGray(path string) *image.Gray {
	f, err := os.Open(path)
	if err != nil {
		fail(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f) // PGM: internal/engine registers it; PNG
	if err != nil {
		fail(err)
	}
	if g, ok := img.(*image.Gray); ok {
		return g
	}
	g := image.NewGray(img.Bounds())
	draw.Draw(g, g.Bounds(), img, img.Bounds().Min, draw.Src)
	return g
}

// skewed turns src by deg degrees counter-clockwise about its centre on a
// white ground (bilinear) and encodes it as JPEG q85.
func skewed(src *image.Gray, deg float64) []byte {
	b := src.Bounds()
	dst := image.NewGray(b)
	draw.Draw(dst, b, &image.Uniform{color.Gray{255}}, image.Point{}, draw.Src)
	r := deg * math.Pi / 180
	c, s := math.Cos(r), math.Sin(r)
	cx, cy := float64(b.Dx())/2, float64(b.Dy())/2
	// dst = R·(src − centre) + centre; image y runs down, so counter-clockwise is −r.
	m := f64.Aff3{c, s, cx - c*cx - s*cy, -s, c, cy + s*cx - c*cy}
	draw.BiLinear.Transform(dst, m, src, b, draw.Over, nil)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: 85}); err != nil {
		fail(err)
	}
	return out.Bytes()
}

// threadCPU is this OS thread's user + system CPU seconds.
func threadCPU() float64 {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		fail(err)
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
