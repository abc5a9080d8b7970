package cli

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lector-ocr/lector/internal/api"
)

// TestOverloadAnswers503WithRetryAfterAndLosesNothing: with a queue bound
// of 3, many concurrent submissions get either 202 or 503 with
// Retry-After; every accepted task succeeds. A synchronous request that
// cannot get a lane in time is 503 too, not 504.
func TestOverloadAnswers503WithRetryAfterAndLosesNothing(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--enable-synthetic", "--max-queued-tasks", "3", "--workers", "1", "--cpu-lanes", "1")
	ctx := t.Context()
	img := grayPNG(t, 1000, 1000)
	var mu sync.Mutex
	var accepted []string
	var refused []*api.StatusError
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			task, err := ts.client.Submit(ctx, "p.png", bytes.NewReader(img), api.Options{Model: "synthetic:4MiB,t=30ms"})
			mu.Lock()
			defer mu.Unlock()
			var se *api.StatusError
			switch {
			case err == nil:
				accepted = append(accepted, task.ID)
			case errors.As(err, &se):
				refused = append(refused, se)
			default:
				t.Errorf("submit: %v", err)
			}
		})
	}
	wg.Wait()
	if len(accepted) == 0 || len(refused) == 0 {
		t.Fatalf("%d accepted, %d refused; want some of each with a bound of 3", len(accepted), len(refused))
	}
	for _, se := range refused {
		secs, err := strconv.Atoi(se.RetryAfter)
		if se.Status != 503 || se.Code != "queue_full" || err != nil || secs < 1 {
			t.Fatalf("refusal: %+v, want 503 queue_full with Retry-After in seconds", se)
		}
	}
	for _, id := range accepted {
		if fin, err := ts.client.Wait(ctx, id); err != nil || fin.Status != "succeeded" {
			t.Fatalf("accepted task %s: %+v %+v %v\n%s", id, fin, fin.Error, err, ts.logs)
		}
	}
	t.Logf("%d accepted, %d refused (Retry-After %s s)", len(accepted), len(refused), refused[0].RetryAfter)

	// The only lane busy for an hour: a synchronous request is refused as
	// overloaded when its timeout passes without a lane.
	slow, err := ts.client.Submit(ctx, "s.png", bytes.NewReader(img), api.Options{Model: "synthetic:4MiB,t=1h"})
	if err != nil {
		t.Fatal(err)
	}
	ts.sig.working.Wait(t, func(id string) bool { return id == slow.ID }) // it holds the lane
	_, _, err = ts.client.OCR(ctx, "q.png", bytes.NewReader(grayPNG(t, 50, 50)), api.Options{Model: "synthetic:4MiB", Timeout: "200ms"})
	var se *api.StatusError
	if !errors.As(err, &se) || se.Status != 503 || se.Code != "unavailable" || se.RetryAfter == "" {
		t.Fatalf("sync without a lane: %v, want 503 unavailable with Retry-After", err)
	}
	if _, err := ts.client.Cancel(ctx, slow.ID); err != nil {
		t.Fatal(err)
	}
	if fin, err := ts.client.Wait(ctx, slow.ID); err != nil || fin.Status != "canceled" {
		t.Fatalf("%+v %v", fin, err)
	}
	ts.assertQuiescent(t)
}

func writeTokens(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAccessControl: without a token, or with a wrong one, /v1 is 401;
// health and metrics are open; another subject's task is 404 (and not in
// its list); a subject's queued-task limit is its own.
func TestAccessControl(t *testing.T) {
	t.Parallel()
	out, _, err := run(t, nil, "token", "bob")
	if err != nil {
		t.Fatal(err)
	}
	var bobToken, bobLine string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "token: "); ok {
			bobToken = v
		}
		if v, ok := strings.CutPrefix(sc.Text(), "line for the --auth-tokens file: "); ok {
			bobLine = v
		}
	}
	if bobToken == "" || !strings.HasPrefix(bobLine, "bob:sha256:") {
		t.Fatalf("lector token printed %q", out)
	}
	tokens := writeTokens(t, "# test users", "alice:alice-secret", bobLine)
	ts := startServer(t, "--enable-synthetic", "--auth-tokens", tokens, "--max-queued-per-subject", "1", "--workers", "1", "--cpu-lanes", "1")
	ctx := t.Context()

	for _, c := range []struct{ name, header string }{{"no token", ""}, {"wrong token", "Bearer nope"}, {"not bearer", "Basic YTpi"}} {
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.base+"/v1/tasks", nil)
		if c.header != "" {
			req.Header.Set("Authorization", c.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(b), `"unauthorized"`) || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d %s", c.name, resp.StatusCode, b)
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(ts.base + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s without a token: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}

	alice := api.NewClient(ts.base)
	alice.Token = "alice-secret"
	bob := api.NewClient(ts.base)
	bob.Token = bobToken
	busy, err := alice.Submit(ctx, "a.png", bytes.NewReader(grayPNG(t, 1000, 1000)), api.Options{Model: "synthetic:4MiB,t=1h"})
	if err != nil {
		t.Fatal(err)
	}
	ts.sig.working.Wait(t, func(id string) bool { return id == busy.ID }) // it holds the only lane
	queued, err := alice.Submit(ctx, "b.png", bytes.NewReader(grayPNG(t, 10, 10)), api.Options{Model: "synthetic:4MiB"})
	if err != nil {
		t.Fatal(err)
	}
	// Alice now has a task queued (the only lane is busy): her limit of 1
	// refuses a second; Bob's own limit is untouched.
	var se *api.StatusError
	if _, err := alice.Submit(ctx, "c.png", bytes.NewReader(grayPNG(t, 10, 10)), api.Options{Model: "synthetic:4MiB"}); !errors.As(err, &se) || se.Status != 503 || se.Code != "queue_full" {
		t.Fatalf("alice over her limit: %v", err)
	}
	bobs, err := bob.Submit(ctx, "d.png", bytes.NewReader(grayPNG(t, 10, 10)), api.Options{Model: "synthetic:4MiB"})
	if err != nil {
		t.Fatalf("bob under his limit: %v", err)
	}
	for _, id := range []string{busy.ID, queued.ID} {
		if _, err := bob.Get(ctx, id); !errors.As(err, &se) || se.Status != 404 {
			t.Errorf("bob sees alice's task %s: %v", id, err)
		}
		if err := bob.Result(ctx, id, "txt", io.Discard); !errors.As(err, &se) || se.Status != 404 {
			t.Errorf("bob reads alice's result: %v", err)
		}
		if _, err := bob.Cancel(ctx, id); !errors.As(err, &se) || se.Status != 404 {
			t.Errorf("bob cancels alice's task: %v", err)
		}
	}
	l, err := bob.List(ctx, 10, "")
	if err != nil || len(l.Tasks) != 1 || l.Tasks[0].ID != bobs.ID {
		t.Fatalf("bob's list: %+v %v", l, err)
	}
	if _, err := alice.Cancel(ctx, busy.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		c  *api.Client
		id string
	}{{alice, busy.ID}, {alice, queued.ID}, {bob, bobs.ID}} {
		if _, err := c.c.Wait(ctx, c.id); err != nil {
			t.Fatal(err)
		}
	}
	// The CLI takes the token from LECTOR_TOKEN.
	out, stderr, err := run(t, map[string]string{"LECTOR_SERVER": ts.base, "LECTOR_TOKEN": bobToken}, "tasks", "list")
	if err != nil || !strings.Contains(out, bobs.ID) || strings.Contains(out, busy.ID) {
		t.Fatalf("tasks list as bob: %v %s\n%s", err, stderr, out)
	}
}

// TestServeRefusesAnOpenNonLoopbackListener: without tokens a server does
// not listen beyond loopback unless told that this is intended.
func TestServeRefusesAnOpenNonLoopbackListener(t *testing.T) {
	t.Parallel()
	_, _, err := run(t, testEnv(), "serve", "--listen", "0.0.0.0:0", "--data-dir", t.TempDir())
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--auth-tokens") {
		t.Fatalf("err = %v, want a refusal naming --auth-tokens", err)
	}
	for _, a := range []string{"127.0.0.1:8080", "[::1]:80", "localhost:1"} {
		if !loopback(a) {
			t.Errorf("%s is loopback", a)
		}
	}
	for _, a := range []string{"0.0.0.0:8080", ":8080", "192.168.1.2:80", "example.org:80"} {
		if loopback(a) {
			t.Errorf("%s is not loopback", a)
		}
	}
}
