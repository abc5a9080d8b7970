package cli

import (
	"flag"
	"io"
	"slices"
	"testing"
)

// Flags stand before and after file names in every command (`lector ocr
// scan.pdf -o scan.ocr.pdf`, the README's first example); "--" ends them.
func TestFlagsInterspersedWithFilesAndDashDashEndsThem(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("ocr", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("o", "", "")
	format := fs.String("format", "json", "")
	jobs := fs.Int("jobs", 1, "")
	args := []string{"scan.pdf", "-o", "scan.ocr.pdf", "b.png", "--format=txt", "--jobs", "2", "-", "--", "-c.png", "--jobs"}
	if err := parseInterspersed(fs, args); err != nil {
		t.Fatal(err)
	}
	if *out != "scan.ocr.pdf" || *format != "txt" || *jobs != 2 {
		t.Fatalf("flags: -o %q --format %q --jobs %d", *out, *format, *jobs)
	}
	if want := []string{"scan.pdf", "b.png", "-", "-c.png", "--jobs"}; !slices.Equal(fs.Args(), want) {
		t.Fatalf("files %q, want %q", fs.Args(), want)
	}
	fs2 := flag.NewFlagSet("ocr", flag.ContinueOnError)
	fs2.SetOutput(io.Discard)
	if err := parseInterspersed(fs2, []string{"a.pdf", "--no-such-flag"}); err == nil {
		t.Fatal("an unknown flag after a file was taken as a file")
	}
}
