package lector_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// allowed is which of Lector's packages each package may import (paths
// below the module, "." being the domain package lector): the arrows
// docs/ARCHITECTURE.md draws. Leaves import nothing of Lector's but what is
// listed. A package missing here may import nothing of Lector's; internal/cli
// wires everything and may import anything.
var allowed = map[string][]string{
	".":                         {"internal/errcode"},
	"internal/errcode":          {},
	"internal/clock":            {},
	"internal/obs":              {"internal/clock"},
	"internal/result":           {},
	"internal/eval":             {},
	"internal/auth":             {},
	"internal/spool":            {"internal/errcode"},
	"internal/memory":           {"internal/clock", "internal/obs"},
	"internal/memory/memtest":   {"internal/memory"},
	"internal/device":           {"internal/memory"},
	"internal/cuda":             {"internal/errcode"},
	"internal/cuda/cudatest":    {},
	"internal/table":            {"internal/result"},
	"internal/layout":           {"internal/result", "internal/table"},
	"internal/render":           {"internal/errcode", "internal/result", "internal/table"},
	"internal/engine":           {"internal/device", "internal/errcode", "internal/result"},
	"internal/engine/tesseract": {"internal/device", "internal/engine", "internal/errcode", "internal/result"},
	"internal/engine/ppocr":     {"internal/device", "internal/engine", "internal/errcode", "internal/result"},
	"internal/engine/synthetic": {"internal/cuda", "internal/device", "internal/engine", "internal/errcode", "internal/result"},
	"internal/engine/structure": {"internal/device", "internal/engine", "internal/engine/ppocr", "internal/engine/tesseract", "internal/errcode", "internal/layout", "internal/result"},
	"internal/document":         {".", "internal/engine", "internal/errcode", "internal/render", "internal/result"},
	"internal/document/pdftest": {},
	"internal/runner":           {"internal/engine", "internal/errcode", "internal/obs", "internal/result"},
	"internal/model":            {".", "internal/clock", "internal/engine", "internal/errcode", "internal/obs", "internal/result", "internal/runner"},
	"internal/pool":             {"internal/clock", "internal/errcode", "internal/obs"},
	"internal/admission":        {".", "internal/clock", "internal/device", "internal/engine", "internal/errcode", "internal/memory", "internal/model", "internal/obs"},
	"internal/task":             {".", "internal/admission", "internal/clock", "internal/device", "internal/engine", "internal/errcode", "internal/memory", "internal/model", "internal/obs", "internal/pool", "internal/result"},
	"internal/store":            {".", "internal/errcode"},
	"internal/pgtest":           {},
	"internal/api":              {"."},
	"internal/service":          {".", "internal/admission", "internal/api", "internal/clock", "internal/document", "internal/engine", "internal/errcode", "internal/obs", "internal/render", "internal/result", "internal/spool", "internal/store", "internal/task"},
	"internal/metrics":          {"internal/admission", "internal/api", "internal/memory", "internal/model", "internal/pool"},
	"internal/server":           {".", "internal/admission", "internal/api", "internal/auth", "internal/device", "internal/errcode", "internal/memory", "internal/metrics", "internal/model", "internal/obs", "internal/pool", "internal/render", "internal/service", "internal/spool", "internal/task", "internal/web"},
	"internal/web":              {"internal/auth", "internal/clock", "internal/errcode", "internal/obs"},
	"internal/config":           {"internal/admission", "internal/document", "internal/engine", "internal/memory", "internal/model", "internal/pool", "internal/service"},
	"bench/loadgen":             {"internal/api"},
	"bench/textdiff":            {"internal/eval"},
	"bench/imgpdf":              {"internal/render", "internal/result"},
	"bench/deskew":              {"internal/engine", "internal/engine/tesseract", "internal/eval"},
	"bench/replay":              {"internal/admission", "internal/device"},
	"cmd/lector":                {"internal/cli"},
}

const module = "github.com/lector-ocr/lector"

// TestImportRules fails when a package imports one of Lector's packages
// that the architecture does not let it import: a wrong arrow fails CI.
func TestImportRules(t *testing.T) {
	seen := 0
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		if pkg == "internal/cli" {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		seen++
		rules, known := allowed[pkg]
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p != module && !strings.HasPrefix(p, module+"/") {
				continue
			}
			rel := strings.TrimPrefix(strings.TrimPrefix(p, module), "/")
			if rel == "" {
				rel = "."
			}
			if !known {
				t.Errorf("%s: package %s has no import rules in imports_test.go (add it, with the arrows it needs)", path, pkg)
				return nil
			}
			if !slices.Contains(rules, rel) {
				t.Errorf("%s imports %s, which %s may not import (allowed: %v)", path, rel, pkg, rules)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 50 {
		t.Fatalf("only %d files read: the walk did not find the tree", seen)
	}
}
