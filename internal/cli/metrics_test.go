package cli

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/api"
	modelpkg "github.com/lector-ocr/lector/internal/model"
)

// scrape returns every sample of /metrics as "name{k="v",…}" → value, the
// labels sorted.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// series names a sample: name and labels in any order.
func series(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	var parts []string
	for i := 0; i+1 < len(labels); i += 2 {
		parts = append(parts, labels[i]+`="`+labels[i+1]+`"`)
	}
	sort.Strings(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

// TestMetricsAfterATask scrapes /metrics after a task and an explicit
// unload and finds each series the operators' dashboards need, with values
// that follow from what happened.
func TestMetricsAfterATask(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--enable-synthetic", "--cpu-lanes", "2")
	ctx := t.Context()
	const model = "synthetic:8MiB,ws=4MiB"
	task, err := ts.client.Submit(ctx, "p.png", bytes.NewReader(grayPNG(t, 1000, 1000)), api.Options{Model: model, KeepAlive: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	if task, err = ts.client.Wait(ctx, task.ID); err != nil || task.Status != "succeeded" {
		t.Fatalf("%+v %v", task, err)
	}
	// The task reads as succeeded once its end is stored; the metrics
	// count it just after.
	ts.sig.ended.Wait(t, func(id string) bool { return id == task.ID })
	m := scrape(t, ts.base)
	cpu := []string{"device", "cpu"}
	inst := []string{"device", "cpu", "model", model}
	want := map[string]func(float64) bool{
		series("lector_memory_used_bytes", cpu...):                                                            func(v float64) bool { return v > 0 },
		series("lector_memory_total_bytes", cpu...):                                                           func(v float64) bool { return v > m[series("lector_memory_used_bytes", cpu...)] },
		series("lector_memory_level", cpu...):                                                                 func(v float64) bool { return v >= 0 && v <= 3 },
		series("lector_admission_reserved_bytes", cpu...):                                                     zero,
		series("lector_model_instances", append(inst, "state", "ready")...):                                   one,
		series("lector_model_references", inst...):                                                            zero,
		series("lector_model_memory_bytes", inst...):                                                          func(v float64) bool { return v >= 8<<20 },
		series("lector_model_loads_total", append(inst, "result", "ok")...):                                   one,
		series("lector_model_load_seconds_count", inst...):                                                    one,
		series("lector_pool_lanes_busy", cpu...):                                                              zero,
		series("lector_pool_lanes_free", cpu...):                                                              func(v float64) bool { return v == 2 },
		series("lector_pool_queue_length", cpu...):                                                            zero,
		series("lector_pool_lane_wait_seconds_count", cpu...):                                                 one,
		series("lector_semaphore_in_use", "pipeline", "structure"):                                            zero,
		series("lector_semaphore_waiting", "pipeline", "structure"):                                           zero,
		series("lector_admission_decisions_total", "decision", "admitted", "device", "cpu", "reason", "fits"): one,
		series("lector_tasks_total", "pipeline", "ocr", "status", "succeeded"):                                one,
		series("lector_task_duration_seconds_count", "pipeline", "ocr", "status", "succeeded"):                one,
		series("lector_task_memory_actual_to_estimated_ratio_count", cpu...):                                  one,
		series("lector_tasks_queued"):                                                                         zero,
	}
	check := func(m map[string]float64, want map[string]func(float64) bool) {
		t.Helper()
		for s, ok := range want {
			v, found := m[s]
			if !found {
				t.Errorf("no series %s", s)
				continue
			}
			if !ok(v) {
				t.Errorf("%s = %v", s, v)
			}
		}
	}
	check(m, want)
	// The ratio observed is this task's peak over its estimate.
	r := task.Resources
	if sum, want := m[series("lector_task_memory_actual_to_estimated_ratio_sum", cpu...)], float64(r.PeakBytes)/float64(r.EstimatedBytes); sum != want {
		t.Errorf("actual/estimated = %v, want %v (peak %d, estimated %d)", sum, want, r.PeakBytes, r.EstimatedBytes)
	}
	if _, err := ts.client.Unload(ctx, model, ""); err != nil {
		t.Fatal(err)
	}
	ts.sig.unloaded.Wait(t, func(r modelpkg.UnloadRecord) bool { return r.Reason == modelpkg.ReasonExplicit })
	check(scrape(t, ts.base), map[string]func(float64) bool{
		series("lector_model_unloads_total", append(inst, "reason", "explicit")...): one,
	})
	_ = io.Discard
}

func zero(v float64) bool { return v == 0 }
func one(v float64) bool  { return v == 1 }

// TestRetentionJobDeletesResults: the periodic retention job of a real
// server deletes a finished task's results once they have expired; the
// result then answers 410.
func TestRetentionJobDeletesResults(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "--enable-synthetic", "--retention", "1ns", "--retention-interval", "200ms")
	ctx := t.Context()
	task, err := ts.client.Submit(ctx, "p.png", bytes.NewReader(grayPNG(t, 100, 100)), api.Options{Model: "synthetic:1MiB"})
	if err != nil {
		t.Fatal(err)
	}
	if task, err = ts.client.Wait(ctx, task.ID); err != nil || task.Status != "succeeded" {
		t.Fatalf("%+v %v", task, err)
	}
	ts.sig.retained.Wait(t, nil)
	var se *api.StatusError
	if err := ts.client.Result(ctx, task.ID, "txt", io.Discard); !asStatus(err, &se) || se.Status != 410 || se.Code != "gone" {
		t.Fatalf("result after retention: %v, want 410 gone", err)
	}
	got, err := ts.client.Get(ctx, task.ID)
	if err != nil || got.ResultsDeletedAt == nil || got.Status != "succeeded" {
		t.Fatalf("the task after retention: %+v %v", got, err)
	}
}

func asStatus(err error, se **api.StatusError) bool {
	e, ok := err.(*api.StatusError)
	if ok {
		*se = e
	}
	return ok
}
