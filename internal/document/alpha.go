package document

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
)

// hasAlpha reports whether images of color model m may be transparent:
// RGBA and gray+alpha (which Go decodes as NRGBA), 16-bit forms, and a
// palette with a transparent entry.
func hasAlpha(m color.Model) bool {
	switch m {
	case color.RGBAModel, color.NRGBAModel, color.RGBA64Model, color.NRGBA64Model, color.AlphaModel, color.Alpha16Model, color.NYCbCrAModel:
		return true
	}
	if p, ok := m.(color.Palette); ok {
		for _, c := range p {
			if _, _, _, a := c.RGBA(); a != 0xffff {
				return true
			}
		}
	}
	return false
}

// onWhite decodes a possibly transparent image and, when any pixel is not
// opaque, returns it composited on white ("over", Porter–Duff) as an 8-bit
// PNG — gray when every pixel is gray, else RGB — so that no pipeline reads
// transparent pixels as black (their colour channels are usually zero). It
// returns nil when the image is opaque after all.
func onWhite(data []byte) ([]byte, error) {
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	b := src.Bounds()
	rgb := image.NewRGBA(b)
	gray := image.NewGray(b)
	transparent, isGray := false, true
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := src.At(x, y).RGBA() // premultiplied, 16-bit
			if a != 0xffff {
				transparent = true
			}
			white := 0xffff - a
			c := color.RGBA{uint8((r + white) >> 8), uint8((g + white) >> 8), uint8((bl + white) >> 8), 0xff}
			rgb.SetRGBA(x, y, c)
			if c.R != c.G || c.G != c.B {
				isGray = false
			}
			gray.SetGray(x, y, color.Gray{c.R})
		}
	}
	if !transparent {
		return nil, nil
	}
	var out bytes.Buffer
	var img image.Image = rgb
	if isGray {
		img = gray
	}
	if err := png.Encode(&out, img); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
