package service

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// retentionArgs is the periodic job that deletes expired inputs and results.
type retentionArgs struct{}

func (retentionArgs) Kind() string { return "lector_retention" }

type retentionWorker struct {
	river.WorkerDefaults[retentionArgs]
	s *Service
}

func (w *retentionWorker) Work(ctx context.Context, _ *river.Job[retentionArgs]) error {
	_, err := w.s.Retain(ctx)
	return err
}

// Retain deletes the input and results of every task that ended more than
// Retention ago (by the service's clock); the task's row stays, marked, and
// its results answer gone. It returns how many tasks it cleared.
func (s *Service) Retain(ctx context.Context) (int, error) {
	now := s.cfg.Clock.Now()
	cutoff := now.Add(-s.cfg.Retention)
	n := 0
	for {
		ids, err := s.cfg.Store.Expired(ctx, cutoff, 100)
		if err != nil || len(ids) == 0 {
			if n > 0 {
				s.cfg.Log.Info("retention: deleted inputs and results", "tasks", n, "ended_before", cutoff.Format(time.RFC3339))
				if s.cfg.OnRetention != nil {
					s.cfg.OnRetention(n)
				}
			}
			return n, err
		}
		for _, id := range ids {
			if err := s.cfg.Store.DeleteBlobs(ctx, id, now); err != nil {
				return n, err
			}
			n++
		}
	}
}
