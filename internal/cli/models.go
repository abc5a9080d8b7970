package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

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
		out = append(out, ModelInfo{Name: e.Model, Engine: name, Description: e.Description, Devices: devs, Formats: e.Formats,
			DiskBytes: e.DiskBytes, LoadBytes: e.Footprint.Host.Load, PerMegapixel: e.Footprint.Host.PerMegapixel,
			DeviceLoadBytes: e.Footprint.Device.Load, DevicePerMegapixel: e.Footprint.Device.PerMegapixel})
	}
	return out
}

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
	}
	return nil
}
