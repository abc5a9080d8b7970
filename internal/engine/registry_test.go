package engine_test

import (
	"context"
	"errors"
	"image"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
)

// catalogEngine is a fake engine with installed models (the registry's
// own behaviour is under test, not an engine's).
type catalogEngine struct{ models []string }

func (e catalogEngine) Load(context.Context, engine.Spec) (engine.Model, error) {
	return nil, errcode.New(errcode.ModelLoadFailed, "catalogEngine loads nothing")
}

func (e catalogEngine) Estimate(config string, _ device.Kind) (engine.Footprint, error) {
	for _, m := range e.models {
		if strings.HasSuffix(m, ":"+config) {
			return engine.Footprint{}, nil
		}
	}
	return engine.Footprint{}, errcode.New(errcode.UnknownModel, "config %q is not installed", config)
}

func (e catalogEngine) Catalog() []engine.Entry {
	var out []engine.Entry
	for _, m := range e.models {
		out = append(out, engine.Entry{Model: m})
	}
	return out
}

// TestValidateNamesEveryInstalledModel: an unknown model — no config, an
// engine this build lacks, a config its engine has not installed — is
// unknown_model naming every engine's installed models.
func TestValidateNamesEveryInstalledModel(t *testing.T) {
	t.Parallel()
	r := engine.NewRegistry()
	r.Register("ppocr", catalogEngine{[]string{"ppocr:v4"}})
	r.Register("tesseract", catalogEngine{[]string{"tesseract:eng", "tesseract:chi_sim"}})
	const all = "installed models: ppocr:v4, tesseract:chi_sim, tesseract:eng"
	for _, model := range []string{"ppocr", "ppocr:v9", "paddle:v4", ""} {
		err := r.Validate(model)
		if errcode.Of(err) != errcode.UnknownModel {
			t.Errorf("%q: %v, want unknown_model", model, err)
			continue
		}
		if msg := errcode.Message(err); !strings.HasSuffix(msg, all) {
			t.Errorf("%q: message %q does not end with %q", model, msg, all)
		}
	}
	if err := r.Validate("tesseract:eng"); err != nil {
		t.Errorf("an installed model: %v", err)
	}
}

// printEngine is a fake engine.PrintSizer whose pages under 1000 px need
// their print, measured as the decoded image's width.
type printEngine struct{ catalogEngine }

func (printEngine) WorkMegapixels(_ string, p engine.PageShape) float64 { return p.Megapixels() }
func (printEngine) NeedsPrint(_ string, p engine.PageShape) bool        { return p.Width < 1000 }
func (printEngine) MeasurePrint(img image.Image) int                    { return img.Bounds().Dx() }

// TestPrintHeightDecodesOnlyWhereTheEngineNeedsIt: the registry decodes a
// page for its print only when the model's engine sizes that page by it,
// and a page that does not decode is left unmeasured (0).
func TestPrintHeightDecodesOnlyWhereTheEngineNeedsIt(t *testing.T) {
	t.Parallel()
	r := engine.NewRegistry()
	r.Register("print", printEngine{catalogEngine{[]string{"print:a"}}})
	r.Register("plain", catalogEngine{[]string{"plain:a"}})
	decodes := 0
	decode := func() (image.Image, error) { decodes++; return image.NewGray(image.Rect(0, 0, 17, 1)), nil }
	if got := r.PrintHeight("print:a", engine.PageShape{Width: 800, Height: 300}, decode); got != 17 || decodes != 1 {
		t.Errorf("a small page: print %d after %d decodes, want 17 after 1", got, decodes)
	}
	for _, c := range []struct {
		model string
		p     engine.PageShape
	}{{"print:a", engine.PageShape{Width: 2000, Height: 3000}}, {"plain:a", engine.PageShape{Width: 800, Height: 300}}} {
		decodes = 0
		if got := r.PrintHeight(c.model, c.p, decode); got != 0 || decodes != 0 {
			t.Errorf("%s %v: print %d after %d decodes, want 0 after none", c.model, c.p, got, decodes)
		}
	}
	bad := func() (image.Image, error) { return nil, errors.New("unreadable") }
	if got := r.PrintHeight("print:a", engine.PageShape{Width: 800, Height: 300}, bad); got != 0 {
		t.Errorf("an undecodable page: print %d, want 0", got)
	}
}

// classEngine is a fake engine.Classer: pages under 1000 px wide are
// "small", documented at 5 MiB a page and 50 a megapixel.
type classEngine struct{ catalogEngine }

func (classEngine) PageClass(_ string, p engine.PageShape) string {
	if p.Width < 1000 {
		return "small"
	}
	return ""
}

func (classEngine) PageClasses(string) []string { return []string{"small"} }

func (e classEngine) ClassEstimate(config, class string, kind device.Kind) (engine.Footprint, error) {
	f, err := e.Estimate(config, kind)
	if err != nil || class == "" {
		return f, err
	}
	if class != "small" {
		return engine.Footprint{}, errcode.New(errcode.Internal, "no class %q", class)
	}
	f.Host.PerPage, f.Host.PerMegapixel = 5<<20, 50<<20
	return f, nil
}

// TestPageClassesAreDocumented: the registry names a page's class from
// its engine ("" for an engine without classes), documents each class,
// refuses a class the engine does not have, and lists the classes'
// documented pages in the catalog.
func TestPageClassesAreDocumented(t *testing.T) {
	t.Parallel()
	r := engine.NewRegistry()
	r.Register("cls", classEngine{catalogEngine{[]string{"cls:a"}}})
	r.Register("plain", catalogEngine{[]string{"plain:a"}})
	small := engine.PageShape{Width: 500, Height: 300}
	if got := r.PageClass("cls:a", small); got != "small" {
		t.Errorf("a small page's class %q, want small", got)
	}
	if got := r.PageClass("plain:a", small); got != "" {
		t.Errorf("an engine without classes gave class %q", got)
	}
	f, err := r.EstimateClass("cls:a", "small", device.CPU)
	if err != nil || f.Host.PerPage != 5<<20 || f.Host.PerMegapixel != 50<<20 {
		t.Errorf("the small class: %+v, %v", f.Host, err)
	}
	if _, err := r.EstimateClass("plain:a", "small", device.CPU); errcode.Of(err) != errcode.Internal {
		t.Errorf("a class of an engine without classes: %v, want internal", err)
	}
	if _, err := r.EstimateClass("cls:b", "", device.CPU); errcode.Of(err) != errcode.UnknownModel {
		t.Errorf("a model not installed: %v, want unknown_model", err)
	}
	for _, en := range r.Catalog() {
		switch {
		case en.Model == "cls:a" && en.Classes["small"].Host.PerMegapixel != 50<<20:
			t.Errorf("cls:a's catalog classes %+v", en.Classes)
		case en.Model == "plain:a" && en.Classes != nil:
			t.Errorf("plain:a's catalog classes %+v, want none", en.Classes)
		}
	}
}
