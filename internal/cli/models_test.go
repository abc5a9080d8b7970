package cli

import (
	"context"
	"testing"

	"github.com/lector-ocr/lector/internal/admission"
	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
)

// TestLearnedFiguresShowTheirPageClass: what a server learned of a
// model's page classes is listed under the model, a figure set per class
// (api.Learned.Class), each the fit of its class with the model's learned
// load; the model's own row is left out when it holds nothing but that
// load.
func TestLearnedFiguresShowTheirPageClass(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	f := &admission.Fitter{}
	est := admission.Estimator{
		Documented: func(string, device.Kind) (admission.Footprint, error) {
			return admission.Footprint{Host: admission.Coefficients{Load: 100 * mib, PerPage: 45 * mib, PerMegapixel: 8 * mib}}, nil
		},
		DocumentedClass: func(_, _ string, _ device.Kind) (admission.Footprint, error) {
			return admission.Footprint{Host: admission.Coefficients{Load: 100 * mib, PerPage: 8 * mib, PerMegapixel: 46 * mib}}, nil
		},
		Learner: f,
	}
	f.Observe("structure:default", "cpu", admission.Observation{Host: admission.Sample{Load: 120 * mib, Working: 60 * mib, Pages: 1, Megapixels: 4}})
	f.Observe(admission.LearnKey("structure:default", "enlarged"), "cpu", admission.Observation{Host: admission.Sample{Working: 60 * mib, Pages: 1, Megapixels: 0.5}})
	models := withLearned([]ModelInfo{{Name: "structure:default"}}, est, f)
	if len(models) != 1 || len(models[0].Learned) != 2 {
		t.Fatalf("models %+v, want structure:default alone with two learned figure sets", models)
	}
	page, enlarged := models[0].Learned[0], models[0].Learned[1]
	if page.Class != "" || enlarged.Class != "enlarged" {
		t.Fatalf("classes %q and %q, want \"\" and \"enlarged\"", page.Class, enlarged.Class)
	}
	if page.PerPage != 45*mib || enlarged.PerPage != 60*mib-46*mib/2 || enlarged.PerMegapixel != 46*mib {
		t.Errorf("a page %d MiB, an enlarged page %d MiB + %d MiB/MP", page.PerPage>>20, enlarged.PerPage>>20, enlarged.PerMegapixel>>20)
	}
	if page.LoadBytes != 120*mib || enlarged.LoadBytes != 120*mib {
		t.Errorf("loads %d and %d MiB, want the learned 120 for both", page.LoadBytes>>20, enlarged.LoadBytes>>20)
	}

	// A server that has read only small pages: the model's own row would
	// hold the load alone, which the class's row shows.
	g := &admission.Fitter{}
	est.Learner = g
	g.Observe("structure:default", "cpu", admission.Observation{Host: admission.Sample{Load: 120 * mib}})
	g.Observe(admission.LearnKey("structure:default", "enlarged"), "cpu", admission.Observation{Host: admission.Sample{Working: 60 * mib, Pages: 1, Megapixels: 0.5}})
	models = withLearned([]ModelInfo{{Name: "structure:default"}}, est, g)
	if l := models[0].Learned; len(l) != 1 || l[0].Class != "enlarged" || l[0].LoadBytes != 120*mib {
		t.Errorf("small pages only: learned %+v, want one row, the enlarged pages' with the load", l)
	}
	if l := models[0].Learned; len(l) == 1 && l[0].FittedMegapixels != 0 {
		t.Errorf("one page: fitted up to %.2f MP, want none (the documented slope)", l[0].FittedMegapixels)
	}
	// Pages enough for a slope: it is fitted up to the largest of them.
	for _, mp := range []float64{0.2, 0.4, 0.8, 1.6} {
		g.Observe(admission.LearnKey("structure:default", "enlarged"), "cpu", admission.Observation{Host: admission.Sample{Working: 10*mib + 40*mib*mp, Pages: 1, Megapixels: mp}})
	}
	models = withLearned([]ModelInfo{{Name: "structure:default"}}, est, g)
	if l := models[0].Learned; len(l) != 1 || l[0].FittedMegapixels != 1.6 {
		t.Errorf("five pages up to 1.6 MP: learned %+v, want fitted_megapixels 1.6", l)
	}
}

// classedEngine is a fake engine with one model and one page class.
type classedEngine struct{}

func (classedEngine) Load(context.Context, engine.Spec) (engine.Model, error) {
	return nil, errcode.New(errcode.ModelLoadFailed, "classedEngine loads nothing")
}
func (classedEngine) Estimate(string, device.Kind) (engine.Footprint, error) {
	return engine.Footprint{Host: engine.Cost{Load: 100 << 20, PerPage: 45 << 20, PerMegapixel: 8 << 20}}, nil
}
func (classedEngine) Catalog() []engine.Entry                   { return []engine.Entry{{Model: "c:a"}} }
func (classedEngine) PageClass(string, engine.PageShape) string { return "small" }
func (classedEngine) PageClasses(string) []string               { return []string{"small"} }
func (e classedEngine) ClassEstimate(c, _ string, k device.Kind) (engine.Footprint, error) {
	f, err := e.Estimate(c, k)
	f.Host.PerPage, f.Host.PerMegapixel = 8<<20, 46<<20
	return f, err
}

// TestCatalogShowsTheClassesDocumentedPages: `lector models` and GET
// /v1/models list a model's page classes with their documented page.
func TestCatalogShowsTheClassesDocumentedPages(t *testing.T) {
	t.Parallel()
	reg := engine.NewRegistry()
	reg.Register("c", classedEngine{})
	got := catalog(reg)
	if len(got) != 1 || len(got[0].Classes) != 1 {
		t.Fatalf("catalog %+v, want c:a with one class", got)
	}
	if c := got[0].Classes[0]; c.Class != "small" || c.PerPage != 8<<20 || c.PerMegapixel != 46<<20 {
		t.Errorf("class %+v, want small at 8 MiB + 46 MiB/MP", c)
	}
}
