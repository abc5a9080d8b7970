// Command busyness prints, for each image, measures of how busy its
// content is that could be computed before a page runs, for comparing
// with what the page cost (bench/calibrate.sh's per-task figures): the
// fraction of edge pixels and the number of dark connected components on
// a gray downsample of at most maxPixels pixels (FULL=1: the image's own
// size). Edges: the central-difference gradient's magnitude above 32 (of
// 255) on the gray page (ITU-R BT.601 luma). Components: 8-connected
// components of the minority class after Otsu's global threshold (N.
// Otsu, "A threshold selection method from gray-level histograms", IEEE
// SMC 1979), and how many of them have at most 16 pixels.
//
//	go run ./bench/busyness FILE…   # name, width, height, edge fraction, components, small components, pixels measured
//
// Output is tab-separated, one line an image, for join(1) against a kept
// calibration run (docs/BENCHMARKS.md, admission's calibration).
package main

import (
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"math"
	"os"
)

// maxPixels is the downsample's largest size in pixels (a quarter megapixel).
const maxPixels = 250_000

func main() {
	limit := maxPixels
	if os.Getenv("FULL") != "" {
		limit = math.MaxInt
	}
	status := 0
	for _, name := range os.Args[1:] {
		m, err := measureFile(name, limit)
		if err != nil {
			fmt.Fprintln(os.Stderr, "busyness:", err)
			status = 1
			continue
		}
		fmt.Printf("%s\t%d\t%d\t%.4f\t%d\t%d\t%d\n", name, m.Width, m.Height, m.Edges, m.Components, m.Small, m.Measured)
	}
	os.Exit(status)
}

// measures is one image's figures.
type measures struct {
	Width, Height int     // the image's size in pixels
	Measured      int     // pixels of the gray downsample measured
	Edges         float64 // fraction of the downsample's inner pixels whose gradient exceeds edgeLevel
	Components    int     // 8-connected components of the minority class after Otsu's threshold
	Small         int     // of which at most smallComponent pixels
}

const (
	edgeLevel      = 32 // gradient magnitude, of 255
	smallComponent = 16 // pixels
)

func measureFile(name string, limit int) (measures, error) {
	f, err := os.Open(name)
	if err != nil {
		return measures{}, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return measures{}, fmt.Errorf("%s: %w", name, err)
	}
	return measure(img, limit), nil
}

// measure computes img's measures on its gray downsample of at most limit
// pixels.
func measure(img image.Image, limit int) measures {
	g, w, h := grayDown(img, limit)
	b := img.Bounds()
	m := measures{Width: b.Dx(), Height: b.Dy(), Measured: w * h}
	m.Edges = edgeFraction(g, w, h)
	m.Components, m.Small = components(g, w, h, otsu(g))
	return m
}

// grayDown returns img's luma downsampled by the smallest integer factor
// that brings it to at most limit pixels (box average), and its size.
func grayDown(img image.Image, limit int) ([]float64, int, int) {
	b := img.Bounds()
	s := 1
	for (b.Dx()/s)*(b.Dy()/s) > limit {
		s++
	}
	w, h := b.Dx()/s, b.Dy()/s
	g := make([]float64, w*h)
	for y := range h {
		for x := range w {
			var sum float64
			for dy := range s {
				for dx := range s {
					r, gg, bb, _ := img.At(b.Min.X+x*s+dx, b.Min.Y+y*s+dy).RGBA()
					sum += (0.299*float64(r) + 0.587*float64(gg) + 0.114*float64(bb)) / 257
				}
			}
			g[y*w+x] = sum / float64(s*s)
		}
	}
	return g, w, h
}

// edgeFraction is the fraction of inner pixels whose central-difference
// gradient magnitude exceeds edgeLevel (0 for an image under 3×3).
func edgeFraction(g []float64, w, h int) float64 {
	if w < 3 || h < 3 {
		return 0
	}
	n := 0
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			gx := g[y*w+x+1] - g[y*w+x-1]
			gy := g[(y+1)*w+x] - g[(y-1)*w+x]
			if math.Hypot(gx, gy) > edgeLevel {
				n++
			}
		}
	}
	return float64(n) / float64((w-2)*(h-2))
}

// otsu is the gray level (0–255) that maximises the between-class
// variance of g's histogram; pixels at or below it are dark.
func otsu(g []float64) float64 {
	var hist [256]float64
	for _, v := range g {
		hist[min(max(int(v), 0), 255)]++
	}
	total := float64(len(g))
	var sum float64
	for i, c := range hist {
		sum += float64(i) * c
	}
	var sumB, wB, best, thr float64
	for t := range 256 {
		wB += hist[t]
		if wB == 0 {
			continue
		}
		wF := total - wB
		if wF == 0 {
			break
		}
		sumB += float64(t) * hist[t]
		mB, mF := sumB/wB, (sum-sumB)/wF
		if v := wB * wF * (mB - mF) * (mB - mF); v > best {
			best, thr = v, float64(t)
		}
	}
	return thr
}

// components counts the 8-connected components of the minority class
// (dark, or light where dark pixels are the majority: white print on a
// dark ground) of g thresholded at thr, and how many have at most
// smallComponent pixels.
func components(g []float64, w, h int, thr float64) (n, small int) {
	dark := 0
	for _, v := range g {
		if v <= thr {
			dark++
		}
	}
	darkFG := dark*2 <= len(g)
	seen := make([]bool, len(g))
	fg := func(i int) bool { return (g[i] <= thr) == darkFG }
	var stack []int
	for i := range g {
		if seen[i] || !fg(i) {
			continue
		}
		n++
		size := 0
		seen[i] = true
		stack = append(stack[:0], i)
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			size++
			x, y := p%w, p/w
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					xx, yy := x+dx, y+dy
					if xx < 0 || yy < 0 || xx >= w || yy >= h {
						continue
					}
					if q := yy*w + xx; !seen[q] && fg(q) {
						seen[q] = true
						stack = append(stack, q)
					}
				}
			}
		}
		if size <= smallComponent {
			small++
		}
	}
	return n, small
}
