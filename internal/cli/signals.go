package cli

import (
	"context"

	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/model"
	"github.com/lector-ocr/lector/internal/testsignal"
)

// nodeSignals are an in-process node's test signals (testsignal): what
// end-to-end tests wait for instead of reading the log. Production code
// sends on them always; only a test's Init makes them carry anything.
type nodeSignals struct {
	unloaded testsignal.Signal[model.UnloadRecord]
	working  testsignal.Signal[string] // the id of a task whose first page has its lane
	retained testsignal.Signal[int]    // tasks whose results a retention pass deleted
	ended    testsignal.Signal[string] // the id of a task whose end the metrics have counted
}

type signalsKey struct{}

// withSignals gives a node started with ctx the signals s (tests).
func withSignals(ctx context.Context, s *nodeSignals) context.Context {
	return context.WithValue(ctx, signalsKey{}, s)
}

// signalsOf returns ctx's signals, or idle ones.
func signalsOf(ctx context.Context) *nodeSignals {
	if s, ok := ctx.Value(signalsKey{}).(*nodeSignals); ok {
		return s
	}
	return &nodeSignals{}
}

// onUnload chains the unloaded signal after next (a metrics hook, or nil).
func (s *nodeSignals) onUnload(next func(model.UnloadRecord)) func(model.UnloadRecord) {
	return func(r model.UnloadRecord) {
		if next != nil {
			next(r)
		}
		s.unloaded.Send(r)
	}
}

// endedSignal observes a task's end with observe (the metrics), then
// sends its id: a test that waits for it reads the counted end.
func endedSignal(observe func(*api.Task), send func(string)) func(*api.Task) {
	return func(t *api.Task) {
		observe(t)
		send(t.ID)
	}
}
