package service

import (
	"testing"
	"time"
)

func TestRetryAfterFollowsTheDrainRate(t *testing.T) {
	t.Parallel()
	var d drain
	now := time.Unix(1000, 0)
	if got := d.retryAfter(now, 5); got != 30*time.Second {
		t.Fatalf("nothing finished: %v, want the 30s default", got)
	}
	for i := range 60 { // 60 tasks over the last minute: 1 per second
		d.record(now.Add(time.Duration(i-60) * time.Second))
	}
	if got := d.retryAfter(now, 10); got != 10*time.Second {
		t.Fatalf("10 ahead at 1/s: %v", got)
	}
	if got := d.retryAfter(now, 0); got != time.Second {
		t.Fatalf("nothing ahead: %v, want the 1s floor", got)
	}
	if got := d.retryAfter(now, 100000); got != 10*time.Minute {
		t.Fatalf("a long queue: %v, want the 10min cap", got)
	}
	// Three minutes later the window is empty again.
	if got := d.retryAfter(now.Add(3*time.Minute), 10); got != 30*time.Second {
		t.Fatalf("stale window: %v", got)
	}
}
