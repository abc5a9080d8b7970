package store

import "sync"

// hub tells watchers of a task that it changed. A signal carries no data:
// watchers read the task's row again, so a slow watcher coalesces signals
// and never misses the final state.
type hub struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
	all  map[*allWatch]struct{}
}

// allWatch is a watcher of every task: the ids changed since it last took
// them (reset: changes may have been missed, read everything again), and
// its signal.
type allWatch struct {
	ch    chan struct{}
	ids   map[string]struct{}
	reset bool
}

func newHub() *hub {
	return &hub{subs: map[string]map[chan struct{}]struct{}{}, all: map[*allWatch]struct{}{}}
}

// watchAll returns a channel signalled after a change of any task, a
// function that returns (and forgets) the ids changed since its last call
// and whether changes may have been missed meanwhile (reset), and a
// function that stops the watch.
func (h *hub) watchAll() (<-chan struct{}, func() ([]string, bool), func()) {
	aw := &allWatch{ch: make(chan struct{}, 1), ids: map[string]struct{}{}}
	h.mu.Lock()
	h.all[aw] = struct{}{}
	h.mu.Unlock()
	take := func() ([]string, bool) {
		h.mu.Lock()
		defer h.mu.Unlock()
		ids := make([]string, 0, len(aw.ids))
		for id := range aw.ids {
			ids = append(ids, id)
		}
		clear(aw.ids)
		reset := aw.reset
		aw.reset = false
		return ids, reset
	}
	return aw.ch, take, func() {
		h.mu.Lock()
		delete(h.all, aw)
		h.mu.Unlock()
	}
}

// watch returns a channel signalled after each change of task id, and a
// function that stops the watch.
func (h *hub) watch(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.subs[id] == nil {
		h.subs[id] = map[chan struct{}]struct{}{}
	}
	h.subs[id][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs[id], ch)
		if len(h.subs[id]) == 0 {
			delete(h.subs, id)
		}
	}
}

// publish signals every watcher of task id without blocking.
func (h *hub) publish(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[id] {
		signal(ch)
	}
	for aw := range h.all {
		aw.ids[id] = struct{}{}
		signal(aw.ch)
	}
}

// publishAll signals every watcher (after a lost connection, when changes
// may have been missed).
func (h *hub) publishAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, chans := range h.subs {
		for ch := range chans {
			signal(ch)
		}
	}
	for aw := range h.all {
		aw.reset = true
		signal(aw.ch)
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default: // a signal is already pending
	}
}
