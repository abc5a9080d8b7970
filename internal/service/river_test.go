package service

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/lector-ocr/lector/internal/store"
)

// capture is a store that keeps the River configuration its queue is
// built from.
type capture struct {
	store.Store
	cfg *river.Config
}

func (c *capture) NewQueue(cfg *river.Config, node string) (store.Queue, error) {
	c.cfg = cfg
	return c.Store.NewQueue(cfg, node)
}

// TestRiverDoesNotRescueLongTasks: jobs have no timeout (pages have their
// own), so River's stuck-job rescuer, by default after an hour, would run
// a task of more than an hour a second time beside the first; the
// service's River client puts it out of the way (100 years) and River
// accepts that configuration. Lector's own rescue owns dead runs.
func TestRiverDoesNotRescueLongTasks(t *testing.T) {
	t.Parallel()
	db, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "lector.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := &capture{Store: db}
	if _, err := New(Config{Store: c, WorkDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if c.cfg == nil || c.cfg.RescueStuckJobsAfter < 50*365*24*time.Hour {
		t.Fatalf("River rescues a job running past %v: a task that long would run twice", c.cfg.RescueStuckJobsAfter)
	}
}
