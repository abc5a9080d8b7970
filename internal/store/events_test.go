package store

import (
	"slices"
	"testing"
)

// A watcher of every task is signalled once however many changes come
// before it looks, then reads each changed id once; after publishAll (a
// lost connection) it is told to read everything again.
func TestHubWatchAllCoalescesIDs(t *testing.T) {
	t.Parallel()
	h := newHub()
	changed, take, stop := h.watchAll()
	one, stopOne := h.watch("a")
	defer stopOne()
	for _, id := range []string{"a", "b", "a", "c"} {
		h.publish(id)
	}
	select {
	case <-changed:
	default:
		t.Fatal("no signal after four changes")
	}
	select {
	case <-changed:
		t.Fatal("a second signal for changes already pending")
	default:
	}
	got, reset := take()
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "b", "c"}) || reset {
		t.Fatalf("ids %v reset %v, want a b c and no reset", got, reset)
	}
	if got, _ := take(); len(got) != 0 {
		t.Fatalf("ids taken twice: %v", got)
	}
	select {
	case <-one:
	default:
		t.Fatal("the watcher of task a was not signalled")
	}
	h.publishAll()
	<-changed
	if got, reset := take(); len(got) != 0 || !reset {
		t.Fatalf("after publishAll: ids %v reset %v, want a reset", got, reset)
	}
	if _, reset := take(); reset {
		t.Fatal("the reset was given twice")
	}
	stop()
	h.publish("d")
	select {
	case <-changed:
		t.Fatal("signalled after stop")
	default:
	}
	if len(h.all) != 0 {
		t.Fatalf("%d watchers left after stop", len(h.all))
	}
}
