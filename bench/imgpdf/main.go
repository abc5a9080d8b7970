// Command imgpdf writes a one-page PDF per image — a gray JPEG at the
// given quality, passed into the PDF as it is (DCT), at the given
// resolution — for the bench scripts' scanned PDFs (tiff2pdf damages the
// JPEG of pdftoppm's TIFFs).
//
//	go run ./bench/imgpdf -dpi 300 -quality 75 OUT.pdf IMAGE
package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	_ "image/png" // pdftoppm's pages
	"os"

	"github.com/lector-ocr/lector/internal/render"
	"github.com/lector-ocr/lector/internal/result"
)

func main() {
	dpi := flag.Int("dpi", 300, "the image's resolution")
	quality := flag.Int("quality", 75, "JPEG quality")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: imgpdf [-dpi N] [-quality Q] OUT.pdf IMAGE")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), flag.Arg(1), *dpi, *quality); err != nil {
		fmt.Fprintln(os.Stderr, "imgpdf:", err)
		os.Exit(1)
	}
}

func run(out, in string, dpi, quality int) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	src, _, err := image.Decode(f)
	if err != nil {
		return err
	}
	gray := image.NewGray(src.Bounds())
	draw.Draw(gray, gray.Bounds(), src, src.Bounds().Min, draw.Src)
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, gray, &jpeg.Options{Quality: quality}); err != nil {
		return err
	}
	var pdf bytes.Buffer
	if err := render.ImagePDF(&pdf, jpg.Bytes(), []render.ImagePage{{DPI: dpi}}, []*result.Page{nil}); err != nil {
		return err
	}
	return os.WriteFile(out, pdf.Bytes(), 0o644)
}
