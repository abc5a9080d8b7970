package main

import (
	"image"
	"image/color"
	"testing"
)

func TestMeasureBlankPage(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 1000, 1000))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	m := measure(img, maxPixels)
	if m.Measured != 500*500 {
		t.Errorf("measured %d pixels, want the 2× downsample's 250000", m.Measured)
	}
	if m.Edges != 0 || m.Components != 0 || m.Small != 0 {
		t.Errorf("blank page: %+v, want no edges and no components", m)
	}
}

func TestMeasureCountsDarkComponents(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 200, 100))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	// Ten 2×2 dots 10 px apart and one 20×20 block.
	for k := range 10 {
		for dy := range 2 {
			for dx := range 2 {
				img.SetGray(10+10*k+dx, 10+dy, color.Gray{})
			}
		}
	}
	for y := 50; y < 70; y++ {
		for x := 50; x < 70; x++ {
			img.SetGray(x, y, color.Gray{})
		}
	}
	m := measure(img, maxPixels)
	if m.Components != 11 || m.Small != 10 {
		t.Errorf("components %d (small %d), want 11 (10)", m.Components, m.Small)
	}
	if m.Edges <= 0 || m.Edges >= 0.1 {
		t.Errorf("edge fraction %.4f, want a small positive fraction", m.Edges)
	}
	// White print on a dark ground counts the same.
	for i := range img.Pix {
		img.Pix[i] = 255 - img.Pix[i]
	}
	if inv := measure(img, maxPixels); inv.Components != 11 {
		t.Errorf("inverted: %d components, want 11", inv.Components)
	}
}
