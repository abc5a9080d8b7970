package service

import (
	"sync"
	"time"
)

// drainWindow is how far back the drain rate looks.
const drainWindow = 2 * time.Minute

// drain measures how fast this node finishes tasks, to tell refused
// clients when to come back.
type drain struct {
	mu    sync.Mutex
	times []time.Time // finishes within the window, oldest first
}

func (d *drain) record(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.trimLocked(now)
	d.times = append(d.times, now)
}

func (d *drain) trimLocked(now time.Time) {
	i := 0
	for i < len(d.times) && now.Sub(d.times[i]) > drainWindow {
		i++
	}
	d.times = d.times[i:]
}

// perSecond is the finish rate over the window (0 when nothing finished).
func (d *drain) perSecond(now time.Time) float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.trimLocked(now)
	if len(d.times) == 0 {
		return 0
	}
	span := max(now.Sub(d.times[0]), 10*time.Second)
	return float64(len(d.times)) / span.Seconds()
}

// retryAfter is how long until ahead tasks have drained at the current
// rate, between 1 s and 10 min; 30 s when nothing has finished lately.
func (d *drain) retryAfter(now time.Time, ahead int) time.Duration {
	rate := d.perSecond(now)
	if rate == 0 {
		return 30 * time.Second
	}
	wait := time.Duration(float64(max(ahead, 1)) / rate * float64(time.Second))
	return min(max(wait, time.Second), 10*time.Minute).Round(time.Second)
}
