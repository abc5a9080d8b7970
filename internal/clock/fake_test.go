package clock

import (
	"testing"
	"time"
)

func TestFakeFiresTimersInOrder(t *testing.T) {
	t.Parallel()
	c := NewFake(time.Unix(0, 0))
	var got []int
	c.AfterFunc(2*time.Second, func() { got = append(got, 2) })
	c.AfterFunc(time.Second, func() { got = append(got, 1) })
	stopped := c.AfterFunc(time.Second, func() { got = append(got, 99) })
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer returned false")
	}
	c.Advance(1500 * time.Millisecond)
	if len(got) != 1 || got[0] != 1 {
		t.Fatalf("after 1.5s got %v, want [1]", got)
	}
	c.Advance(time.Second)
	if len(got) != 2 || got[1] != 2 {
		t.Fatalf("after 2.5s got %v, want [1 2]", got)
	}
	if c.Pending() != 0 {
		t.Fatalf("Pending = %d, want 0", c.Pending())
	}
}

func TestFakeTickerTicks(t *testing.T) {
	t.Parallel()
	c := NewFake(time.Unix(0, 0))
	tk := c.NewTicker(time.Second)
	defer tk.Stop()
	select {
	case <-tk.C():
		t.Fatal("ticked before time advanced")
	default:
	}
	c.Advance(time.Second)
	select {
	case <-tk.C():
	default:
		t.Fatal("no tick after one interval")
	}
}

func TestFakeTimerArmedDuringAdvanceFires(t *testing.T) {
	t.Parallel()
	c := NewFake(time.Unix(0, 0))
	fired := false
	c.AfterFunc(time.Second, func() {
		c.AfterFunc(time.Second, func() { fired = true })
	})
	c.Advance(3 * time.Second)
	if !fired {
		t.Fatal("timer armed by a firing timer within the window did not fire")
	}
}
