package engine_test

import (
	"context"
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
