package engine_test

import (
	"fmt"

	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/engine/synthetic"
)

// A registry answers, for any model name, what its engine says of it:
// where it runs, what it makes, what it costs — with the defaults for what
// an engine does not say.
func ExampleRegistry() {
	r := engine.NewRegistry()
	r.Register("synthetic", synthetic.Engine{})

	kinds, _ := r.DeviceKinds("synthetic:100MiB,gpu=1GiB")
	fmt.Println("runs on:", kinds)
	formats, _ := r.Formats("synthetic:100MiB")
	fmt.Println("makes:", formats)
	f, _ := r.Estimate("synthetic:100MiB,ws=10MiB", device.CPU)
	fmt.Printf("on the CPU: %d MiB loaded, %d MiB per megapixel\n", f.Host.Load>>20, f.Host.PerMegapixel>>20)
	fmt.Println(r.CheckFormats("synthetic:100MiB", []string{"txt", "pdf", "docx"}))
	fmt.Println(r.Validate("tesseract:eng"))
	// Output:
	// runs on: [cuda cpu]
	// makes: [json txt md html hocr pdf]
	// on the CPU: 100 MiB loaded, 10 MiB per megapixel
	// model synthetic:100MiB cannot make docx (it makes json, txt, md, html, hocr, pdf)
	// model "tesseract:eng": this build has no engine "tesseract" (engines: synthetic); installed models: synthetic:SIZE[,ws=SIZE][,gpu=SIZE][,gws=SIZE][,t=DURATION][,load=DURATION]
}
