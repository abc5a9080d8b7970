package document

import (
	"fmt"
	"os/exec"
	"testing"
)

// poppler runs a poppler-utils or qpdf tool (installed by make setup from
// APT_PACKAGES); a missing tool fails the test.
func poppler(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func itoa(i int) string { return fmt.Sprint(i) }
