package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/lector-ocr/lector/internal/admission"
	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/engine"
)

// ModelInfo is one entry of `lector models`.
type ModelInfo = api.ModelInfo

// catalog lists the models of every engine of reg (engine.Registry.Catalog)
// as the API shows them.
func catalog(reg *engine.Registry) []ModelInfo {
	var out []ModelInfo
	for _, e := range reg.Catalog() {
		name, _, _ := strings.Cut(e.Model, ":")
		devs := make([]string, len(e.Devices))
		for i, d := range e.Devices {
			devs[i] = string(d)
		}
		var classes []api.ClassInfo
		for _, c := range slices.Sorted(maps.Keys(e.Classes)) {
			classes = append(classes, api.ClassInfo{Class: c, PerPage: e.Classes[c].Host.PerPage, PerMegapixel: e.Classes[c].Host.PerMegapixel})
		}
		out = append(out, ModelInfo{Name: e.Model, Engine: name, Description: e.Description, Devices: devs, Formats: e.Formats,
			DiskBytes: e.DiskBytes, LoadBytes: e.Footprint.Host.Load, PerPage: e.Footprint.Host.PerPage, PerMegapixel: e.Footprint.Host.PerMegapixel,
			DeviceLoadBytes: e.Footprint.Device.Load, DevicePerPage: e.Footprint.Device.PerPage, DevicePerMegapixel: e.Footprint.Device.PerMegapixel,
			Classes: classes})
	}
	return out
}

// withLearned adds to each model of a catalog what the stack's learner
// fitted from its tasks, per device (admission.Fitter).
func withLearned(models []ModelInfo, est admission.Estimator, f *admission.Fitter) []ModelInfo {
	by := map[string][]admission.Learned{}
	classed := map[[2]string]bool{} // a model and device with page classes learned
	for _, l := range f.Learned() {
		m, class := admission.SplitLearnKey(l.Model)
		by[m] = append(by[m], l)
		if class != "" {
			classed[[2]string{m, l.Device}] = true
		}
	}
	// A model learned but not in the catalog by name (a synthetic model's
	// sizes, a model since removed) is listed with its figures alone.
	for m := range by {
		if !slices.ContainsFunc(models, func(mi ModelInfo) bool { return mi.Name == m }) {
			engine, _, _ := strings.Cut(m, ":")
			models = append(models, ModelInfo{Name: m, Engine: engine, Devices: []string{}, Formats: []string{}})
		}
	}
	for i := range models {
		for _, l := range by[models[i].Name] {
			m, class := admission.SplitLearnKey(l.Model)
			if class == "" && l.HostPages == 0 && l.DevicePages == 0 && classed[[2]string{m, l.Device}] {
				// Only the load, learned here whatever class loaded the
				// model: the classes' rows show it with their pages.
				continue
			}
			fp, err := est.ClassFootprint(m, class, l.Device)
			if err != nil {
				continue
			}
			models[i].Learned = append(models[i].Learned, api.Learned{Device: l.Device, Class: class, Tasks: l.Tasks,
				Observations: l.HostPages, LoadBytes: u64(fp.Host.Load), PerPage: u64(fp.Host.PerPage), PerMegapixel: u64(fp.Host.PerMegapixel),
				FittedMegapixels:   math.Round(fp.Host.Span*100) / 100,
				DeviceObservations: l.DevicePages, DeviceLoadBytes: u64(fp.Device.Load), DevicePerPage: u64(fp.Device.PerPage),
				DevicePerMegapixel: u64(fp.Device.PerMegapixel)})
		}
	}
	return models
}

func u64(f float64) uint64 { return uint64(max(f, 0)) }

func runModels(ctx context.Context, io IO, args []string) error {
	fs := flag.NewFlagSet("models", flag.ContinueOnError)
	client := clientFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	local := fs.Bool("local", false, "list this machine's models without asking a server")
	if err := parse(fs, io, args); err != nil {
		return err
	}
	var models []ModelInfo
	if !*local {
		m, err := client().Models(ctx)
		switch {
		case err == nil:
			models = m.Catalog
		case isUnreachable(err):
			fmt.Fprintf(io.Stderr, "no server answered (%v); the models installed on this machine:\n", err)
			*local = true
		default:
			return err
		}
	}
	if *local {
		models = catalog(newRegistry(false, io.Env, 0))
	}
	if *asJSON {
		return json.NewEncoder(io.Stdout).Encode(models)
	}
	if len(models) == 0 {
		fmt.Fprintln(io.Stdout, "no models installed (install tesseract-ocr-eng, or run make setup)")
		return nil
	}
	fmt.Fprintf(io.Stdout, "%-24s %-10s %-9s %-14s %s\n", "MODEL", "ENGINE", "DEVICES", "ESTIMATED LOAD", "FORMATS")
	for _, m := range models {
		fmt.Fprintf(io.Stdout, "%-24s %-10s %-9s %-14s %s\n", m.Name, m.Engine, strings.Join(m.Devices, ","), FormatBytes(m.LoadBytes), strings.Join(m.Formats, ","))
		if len(m.Classes) > 0 {
			fmt.Fprintf(io.Stdout, "  documented: a page %s + %s/MP", FormatBytes(m.PerPage), FormatBytes(m.PerMegapixel))
			for _, c := range m.Classes {
				fmt.Fprintf(io.Stdout, "; %s pages %s + %s/MP", c.Class, FormatBytes(c.PerPage), FormatBytes(c.PerMegapixel))
			}
			fmt.Fprintln(io.Stdout)
		}
		for _, l := range m.Learned {
			on := l.Device
			if l.Class != "" {
				on += ", " + l.Class + " pages"
			}
			fitted := ""
			if l.FittedMegapixels > 0 {
				fitted = fmt.Sprintf(" (fitted up to %.2f MP)", l.FittedMegapixels)
			}
			fmt.Fprintf(io.Stdout, "  learned on %s from %d tasks (%d in the fit's window): load %s, a page %s + %s/MP%s\n", on, l.Tasks, l.Observations,
				FormatBytes(l.LoadBytes), FormatBytes(l.PerPage), FormatBytes(l.PerMegapixel), fitted)
			if l.DeviceObservations > 0 {
				fmt.Fprintf(io.Stdout, "  learned GPU memory on %s (%d in the fit's window): load %s, a page %s + %s/MP\n", l.Device, l.DeviceObservations,
					FormatBytes(l.DeviceLoadBytes), FormatBytes(l.DevicePerPage), FormatBytes(l.DevicePerMegapixel))
			}
		}
	}
	return nil
}
