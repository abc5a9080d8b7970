// Package evaldata finds the evaluation data for tests: `../shared/eval`
// beside the module root (its README says what each set is). A quality test
// without its data must not pass silently: where the data is absent it
// fails when LECTOR_REQUIRE_EVAL=1 (.ci/run sets it) and is skipped, saying
// why, otherwise (a developer's machine without the data).
package evaldata

import (
	"os"
	"path/filepath"
	"testing"
)

// RequireEnv names the variable that turns a missing data set into a
// failure.
const RequireEnv = "LECTOR_REQUIRE_EVAL"

// Dir returns the evaluation data's directory, or ends the test (see the
// package comment).
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := root()
	if err == nil {
		dir = filepath.Join(filepath.Dir(dir), "shared", "eval")
		_, err = os.Stat(dir)
	}
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("the evaluation data is missing (%v): it lives in ../shared/eval beside the project root", err)
		}
		t.Skipf("skipping: the evaluation data is missing (%v); %s=1 makes this a failure", err, RequireEnv)
	}
	return dir
}

// Path returns a file of the evaluation data, e.g. Path(t, "pages",
// "linn.png"); a missing file fails the test.
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Dir(t)}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("evaluation data: %v", err)
	}
	return p
}

// root is the module's root: the nearest directory up from the working
// directory (a test's package directory) that holds go.mod.
func root() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for ; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", os.ErrNotExist
		}
	}
}
