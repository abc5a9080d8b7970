// Command loadgen drives a running Lector server on loopback and prints
// what users would feel: accepted submissions per second, and end-to-end
// latency (p50, p99) of one document for several numbers of concurrent
// clients, synchronously (POST /v1/ocr) and asynchronously (submit, then
// follow the task's events to its end).
//
//	go run ./bench/loadgen --server http://127.0.0.1:18090 --file page.png --clients 1,4,16
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lector-ocr/lector/internal/api"
)

func main() {
	server := flag.String("server", "http://127.0.0.1:8080", "server address; several, comma-separated, are nodes of one cluster taken in turn by the clients")
	file := flag.String("file", "", "document to send")
	model := flag.String("model", "tesseract:eng", "model for the latency runs")
	submitModel := flag.String("submit-model", "", "model for the submission run (default: --model)")
	clients := flag.String("clients", "1,4,16", "concurrent clients, comma-separated")
	perClient := flag.Int("requests", 10, "requests per client in each latency run")
	submitFor := flag.Duration("submit-for", 5*time.Second, "length of the submission run")
	modes := flag.String("modes", "submit,sync,async", "runs: submit, sync, async")
	flag.Parse()
	data, err := os.ReadFile(*file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	var cs []*api.Client
	for _, addr := range strings.Split(*server, ",") {
		c := api.NewClient(strings.TrimSpace(addr))
		c.HTTP = nil
		cs = append(cs, c)
	}
	c := cs[0]
	ctx := context.Background()
	// Warm-up: the first use loads the model (on every node).
	for _, c := range cs {
		if _, _, err := c.OCR(ctx, *file, bytes.NewReader(data), api.Options{Model: *model, Format: "txt", KeepAlive: "1h"}); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: warm-up:", err)
			os.Exit(1)
		}
	}
	var counts []int
	for _, s := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "loadgen: bad --clients")
			os.Exit(2)
		}
		counts = append(counts, n)
	}
	fmt.Printf("%-8s %7s %9s %9s %9s %9s %8s\n", "mode", "clients", "ok", "errors", "per_sec", "p50_ms", "p99_ms")
	for _, mode := range strings.Split(*modes, ",") {
		switch mode {
		case "submit":
			m := *submitModel
			if m == "" {
				m = *model
			}
			for _, n := range counts {
				ok, bad, secs := submitRun(ctx, cs, *file, data, m, n, *submitFor)
				fmt.Printf("%-8s %7d %9d %9d %9.1f %9s %8s\n", "submit", n, ok, bad, float64(ok)/secs, "-", "-")
			}
			// Let the queue drain before timing latency.
			drain(ctx, c)
		case "sync", "async":
			for _, n := range counts {
				lat, bad, secs := latencyRun(ctx, cs, mode, *file, data, *model, n, *perClient)
				fmt.Printf("%-8s %7d %9d %9d %9.2f %9.1f %8.1f\n", mode, n, len(lat), bad, float64(len(lat))/secs, pct(lat, 50), pct(lat, 99))
			}
		}
	}
}

// submitRun submits from n clients for d, client i to node i mod the nodes.
func submitRun(ctx context.Context, cs []*api.Client, name string, data []byte, model string, n int, d time.Duration) (ok, bad int64, secs float64) {
	var okN, badN atomic.Int64
	stop := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		c := cs[i%len(cs)]
		wg.Go(func() {
			for time.Now().Before(stop) {
				_, err := c.Submit(ctx, name, bytes.NewReader(data), api.Options{Model: model, Formats: "txt", Priority: "batch"})
				if err != nil {
					badN.Add(1)
					continue
				}
				okN.Add(1)
			}
		})
	}
	wg.Wait()
	return okN.Load(), badN.Load(), time.Since(start).Seconds()
}

// drain waits until no task is queued or running.
func drain(ctx context.Context, c *api.Client) {
	for {
		l, err := c.List(ctx, 1, "")
		if err != nil || len(l.Tasks) == 0 {
			return
		}
		if _, err := c.Wait(ctx, l.Tasks[0].ID); err != nil {
			return
		}
		l, err = c.List(ctx, 500, "")
		if err != nil {
			return
		}
		busy := false
		for _, t := range l.Tasks {
			if !t.Final() {
				busy = true
				_, _ = c.Wait(ctx, t.ID)
			}
		}
		if !busy {
			return
		}
	}
}

// latencyRun times each client's requests, client i on node i mod the
// nodes (an asynchronous task is followed on the node it was submitted to,
// wherever it runs).
func latencyRun(ctx context.Context, cs []*api.Client, mode, name string, data []byte, model string, n, each int) ([]float64, int, float64) {
	var mu sync.Mutex
	var lat []float64
	bad := 0
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		c := cs[i%len(cs)]
		wg.Go(func() {
			for range each {
				t0 := time.Now()
				var err error
				if mode == "sync" {
					_, _, err = c.OCR(ctx, name, bytes.NewReader(data), api.Options{Model: model, Format: "txt"})
				} else {
					var t *api.Task
					t, err = c.Submit(ctx, name, bytes.NewReader(data), api.Options{Model: model, Formats: "txt"})
					if err == nil {
						t, err = c.Wait(ctx, t.ID)
					}
					if err == nil && t.Status != "succeeded" {
						err = fmt.Errorf("task %s", t.Status)
					}
				}
				ms := float64(time.Since(t0).Microseconds()) / 1000
				mu.Lock()
				if err != nil {
					bad++
					fmt.Fprintln(os.Stderr, "loadgen:", err)
				} else {
					lat = append(lat, ms)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return lat, bad, time.Since(start).Seconds()
}

func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}
