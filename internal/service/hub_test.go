package service

import (
	"slices"
	"testing"
)

// A watcher of every task is signalled once however many changes come
// before it looks, and then reads each changed id once.
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
	got := take()
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("ids %v, want a b c", got)
	}
	if got := take(); len(got) != 0 {
		t.Fatalf("ids taken twice: %v", got)
	}
	select {
	case <-one:
	default:
		t.Fatal("the watcher of task a was not signalled")
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
