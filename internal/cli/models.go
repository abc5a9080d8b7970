package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/engine/tesseract"
)

// ModelInfo is one entry of `lector models`.
type ModelInfo = api.ModelInfo

// catalog lists the models installed here: one tesseract model per
// installed language, and the combinations users most often want.
func catalog(env Env) []ModelInfo {
	e := tesseract.Engine{DataDir: env["TESSDATA_PREFIX"]}
	langs := tesseract.Languages(tesseract.DataDir(env["TESSDATA_PREFIX"]))
	names := make([]string, 0, len(langs)+2)
	for _, l := range langs {
		names = append(names, l)
	}
	have := strings.Join(langs, " ")
	for _, combo := range []string{"chi_sim+eng", "chi_tra+eng"} {
		a, b, _ := strings.Cut(combo, "+")
		if strings.Contains(have, a) && strings.Contains(have, b) {
			names = append(names, combo)
		}
	}
	var out []ModelInfo
	for _, n := range names {
		l, p, err := e.Estimate(n)
		if err != nil {
			continue
		}
		out = append(out, ModelInfo{Name: "tesseract:" + n, Engine: "tesseract", LoadBytes: l, PerMegapixel: p})
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
		models = catalog(io.Env)
	}
	if *asJSON {
		return json.NewEncoder(io.Stdout).Encode(models)
	}
	if len(models) == 0 {
		fmt.Fprintln(io.Stdout, "no models installed (install tesseract-ocr-eng, or run make setup)")
		return nil
	}
	fmt.Fprintf(io.Stdout, "%-24s %-10s %s\n", "MODEL", "ENGINE", "ESTIMATED LOAD")
	for _, m := range models {
		fmt.Fprintf(io.Stdout, "%-24s %-10s %s\n", m.Name, m.Engine, FormatBytes(m.LoadBytes))
	}
	return nil
}
