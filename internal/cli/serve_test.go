package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServeAnswersHealthAndSystem starts the real command on :0 and stops it
// by cancelling its context, as SIGTERM does in main.
func TestServeAnswersHealthAndSystem(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, nil, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatalf("serve printed nothing: %v", <-done)
	}
	base := strings.TrimPrefix(sc.Text(), "listening on ")
	go func() { _, _ = io.Copy(io.Discard, pr) }()

	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(base + "/v1/system")
	if err != nil {
		t.Fatal(err)
	}
	var sys struct {
		Devices []struct {
			ID    string `json:"id"`
			Level string `json:"level"`
		} `json:"devices"`
	}
	err = json.NewDecoder(resp.Body).Decode(&sys)
	resp.Body.Close()
	if err != nil || len(sys.Devices) == 0 || sys.Devices[0].ID != "cpu" || sys.Devices[0].Level == "" {
		t.Fatalf("system = %+v, %v", sys, err)
	}
	resp, err = http.Get(base + "/v1/models")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("models: %v %v", resp, err)
	}
	var models struct {
		Loaded []any `json:"loaded"`
	}
	err = json.NewDecoder(resp.Body).Decode(&models)
	resp.Body.Close()
	if err != nil || len(models.Loaded) != 0 {
		t.Fatalf("right after start: %+v %v; want nothing loaded", models, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
}

func TestServeRefusesABusyDataDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock, err := lockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	_, _, err = run(t, nil, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("err = %v, want the data directory reported in use", err)
	}
}
