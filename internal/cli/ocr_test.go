package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testEnv is the environment of in-process commands whose runners are this
// test binary standing in for lector.
func testEnv() map[string]string {
	return map[string]string{cliMainEnv: "1", "PATH": os.Getenv("PATH")}
}

func writePNG(t *testing.T, dir, name string, w, h int) string {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOCRSyntheticEndToEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := writePNG(t, dir, "a.png", 1000, 1000)
	b := writePNG(t, dir, "b.png", 500, 400)
	out, stderr, err := run(t, testEnv(), "ocr", "--enable-synthetic", "--model", "synthetic:10MiB,ws=20MiB", "--jobs", "2", a, b)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one JSON line per file, got:\n%s", out)
	}
	var got ocrOutput
	if err := json.Unmarshal([]byte(lines[1]), &got); err != nil {
		t.Fatal(err)
	}
	if got.File != b || len(got.Pages) != 1 || got.Pages[0].Text() != "synthetic page 1\n500x400" || got.Resources == nil || got.Resources.EstimatedBytes == 0 {
		t.Fatalf("result %+v", got)
	}

	txtOut := filepath.Join(dir, "a.txt")
	if _, stderr, err := run(t, testEnv(), "ocr", "--enable-synthetic", "--model", "synthetic:10MiB", "--format", "txt", "-o", txtOut, a); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if txt, _ := os.ReadFile(txtOut); string(txt) != "synthetic page 1\n1000x1000\n" {
		t.Fatalf("txt output %q", txt)
	}
}

func TestOCRBadInputsHaveCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	text := filepath.Join(dir, "text.png")
	_ = os.WriteFile(text, []byte("not an image"), 0o644)
	empty := filepath.Join(dir, "empty.png")
	_ = os.WriteFile(empty, nil, 0o644)
	out, stderr, err := run(t, testEnv(), "ocr", "--enable-synthetic", "--model", "synthetic:1MiB", text, empty)
	if err == nil {
		t.Fatal("bad inputs succeeded")
	}
	if !strings.Contains(stderr, "unsupported_media_type") || !strings.Contains(stderr, "invalid_document") {
		t.Fatalf("stderr lacks the codes:\n%s\nstdout:\n%s", stderr, out)
	}
	// Synthetic models are refused unless explicitly enabled.
	_, stderr, _ = run(t, testEnv(), "ocr", "--model", "synthetic:1MiB", writePNG(t, dir, "ok.png", 10, 10))
	if !strings.Contains(stderr, "unknown_model") {
		t.Fatalf("synthetic without --enable-synthetic: %s", stderr)
	}
}

func TestModelsListsInstalledLanguages(t *testing.T) {
	t.Parallel()
	needTesseract(t)
	out, _, err := run(t, nil, "models", "--local")
	if err != nil || !strings.Contains(out, "tesseract:eng") {
		t.Fatalf("models: %v\n%s", err, out)
	}
	_, stderr, _ := run(t, testEnv(), "ocr", "--model", "tesseract:klingon", writePNG(t, t.TempDir(), "a.png", 10, 10))
	if !strings.Contains(stderr, "unknown_model") || !strings.Contains(stderr, "installed: ") || !strings.Contains(stderr, "eng") {
		t.Fatalf("unknown language error does not name the installed ones: %s", stderr)
	}
}

// An output that is the input is refused before anything is read, and
// inputs with the same name written into one directory each get a file of
// their own, none of them an input.
func TestOCROutputNeverOverwritesAnInputOrAnother(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := writePNG(t, dir, "a.png", 300, 200)
	before, _ := os.ReadFile(a)
	_, _, err := run(t, testEnv(), "ocr", "--enable-synthetic", "--model", "synthetic:1MiB", "--format", "json", a, "-o", a)
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "is the input") {
		t.Fatalf("-o the input: %v", err)
	}
	if after, _ := os.ReadFile(a); !bytes.Equal(before, after) {
		t.Fatal("the input was overwritten")
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	b := writePNG(t, sub, "a.png", 200, 100)
	c := writePNG(t, dir, "a.tif.png", 100, 100) // its stem is a.tif
	out := filepath.Join(dir, "out")
	if _, stderr, err := run(t, testEnv(), "ocr", "--enable-synthetic", "--model", "synthetic:1MiB", "--format", "txt", a, b, c, "-o", out); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for name, want := range map[string]string{"a.txt": "300x200", "a.png.txt": "200x100", "a.tif.txt": "100x100"} {
		if got, err := os.ReadFile(filepath.Join(out, name)); err != nil || !strings.Contains(string(got), want) {
			t.Errorf("%s: %q, %v (want the %s page)", name, got, err, want)
		}
	}
	// An output named as an input keeps the input's name whole, then a number.
	paths, err := outputPaths([]string{a, b}, "png", dir)
	if err != nil || paths[0] != filepath.Join(dir, "a.png.png") || paths[1] != filepath.Join(dir, "a.png-2.png") {
		t.Fatalf("paths %q, %v: want a.png.png (a.png is an input), a.png-2.png", paths, err)
	}
}

// lector ocr -h lists its own flags, not the server's, and -format's
// default once.
func TestOcrHelpListsItsOwnFlags(t *testing.T) {
	t.Parallel()
	_, stderr, _ := run(t, testEnv(), "ocr", "-h")
	for _, want := range []string{"-format", "-pdf-text", "-max-pixels", "-o "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("ocr -h lacks %s:\n%s", want, stderr)
		}
	}
	for _, server := range []string{"-listen", "-database", "-auth-tokens", "-operators", "-retention", `(default "json")`} {
		if strings.Contains(stderr, server) {
			t.Errorf("ocr -h shows %s:\n%s", server, stderr)
		}
	}
}

// An explicit --format that -o's extension contradicts (md into x.html) is
// refused before anything is read, naming both, instead of writing one
// format under the other's name; a matching extension, or none, is fine.
func TestOCRFormatMustMatchOutputExtension(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := writePNG(t, dir, "a.png", 300, 200)
	x := filepath.Join(dir, "x.html")
	_, _, err := run(t, testEnv(), "ocr", "--enable-synthetic", "--model", "synthetic:1MiB", "--format", "md", a, "-o", x)
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), ".html file but --format is md") {
		t.Fatalf("--format md -o x.html: %v", err)
	}
	if _, err := os.Stat(x); err == nil {
		t.Fatal("x.html was written")
	}
	for _, o := range []string{"x.md", "x.out"} {
		if _, stderr, err := run(t, testEnv(), "ocr", "--enable-synthetic", "--model", "synthetic:1MiB", "--format", "md", a, "-o", filepath.Join(dir, o)); err != nil {
			t.Fatalf("--format md -o %s: %v\n%s", o, err, stderr)
		}
	}
}

// A pipeline and model that do not go together are a usage error (exit
// 2) that names the stable code the API answers for the same request
// (invalid_argument, service_test's "structure with an OCR model"), as
// the CLI's other errors print theirs; nothing is read.
func TestOCRPipelineModelMismatchPrintsItsCode(t *testing.T) {
	t.Parallel()
	a := writePNG(t, t.TempDir(), "a.png", 100, 50)
	_, _, err := run(t, testEnv(), "ocr", "--pipeline", "structure", "--model", "ppocr:v4", a)
	if err == nil || ExitCode(err) != 2 || !strings.Contains(err.Error(), "ocr: invalid_argument: ") {
		t.Fatalf("err = %v (exit %d), want a usage error with code invalid_argument", err, ExitCode(err))
	}
	_, _, err = run(t, testEnv(), "ocr", "--pipeline", "layout", a)
	if err == nil || ExitCode(err) != 2 || !strings.Contains(err.Error(), "ocr: invalid_argument: ") {
		t.Fatalf("bad pipeline: err = %v (exit %d), want a usage error with code invalid_argument", err, ExitCode(err))
	}
}
