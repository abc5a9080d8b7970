package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"go.uber.org/goleak"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/pgtest"
)

// TestMain fails the package when a test leaves a goroutine running (a
// store's listener), and stops the private PostgreSQL server.
func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			println("goleak:", err.Error())
			code = 1
		}
	}
	os.Exit(code)
}

// dialect opens stores on one database: open gives a new Store (another
// node's, for PostgreSQL; the same file again, for SQLite).
type dialect struct {
	name string
	open func(t *testing.T) Store
	// exec runs raw SQL (tests that damage or inspect the database).
	exec func(t *testing.T, s Store, q string, args ...any)
}

// forEachDialect runs test against SQLite and against a real PostgreSQL
// server (pgtest), each on a fresh database: the conformance suite.
func forEachDialect(t *testing.T, test func(t *testing.T, d dialect)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "lector.db")
		test(t, dialect{name: "sqlite", open: func(t *testing.T) Store {
			s, err := OpenSQLite(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}, exec: func(t *testing.T, s Store, q string, args ...any) {
			if err := s.(*SQLite).Exec(t.Context(), q, args...); err != nil {
				t.Fatal(err)
			}
		}})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := pgtest.Shared(t).NewDatabase(t)
		test(t, dialect{name: "postgres", open: func(t *testing.T) Store {
			s, err := OpenPostgres(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}, exec: func(t *testing.T, s Store, q string, args ...any) {
			for i := range args { // the tests write SQLite's ? placeholders
				q = replaceFirst(q, "?", "$"+string(rune('1'+i)))
			}
			if err := s.(*Postgres).Exec(t.Context(), q, args...); err != nil {
				t.Fatal(err)
			}
		}})
	})
}

func replaceFirst(s, old, new string) string {
	i := bytes.Index([]byte(s), []byte(old))
	if i < 0 {
		return s
	}
	return s[:i] + new + s[i+len(old):]
}

type testJob struct {
	TaskID string `json:"task_id"`
}

func (testJob) Kind() string { return "lector_task" }

type noopWorker struct{ river.WorkerDefaults[testJob] }

func (noopWorker) Work(context.Context, *river.Job[testJob]) error { return nil }

// withQueue gives s an insert-only River client (no queues: nothing runs).
func withQueue(t *testing.T, s Store, node string) {
	t.Helper()
	workers := river.NewWorkers()
	river.AddWorker(workers, noopWorker{})
	if _, err := s.NewQueue(&river.Config{Workers: workers}, node); err != nil {
		t.Fatal(err)
	}
}

func newTask(id, subject string, at time.Time) *Task {
	return &Task{ID: id, Subject: subject, Status: lector.Queued, Pipeline: "ocr", Model: "m",
		Formats: []string{"json", "txt"}, Priority: "normal", DeviceRequest: "auto", CreatedAt: at}
}

func insert(t *testing.T, s Store, id, subject string, at time.Time) {
	t.Helper()
	if err := s.Insert(t.Context(), newTask(id, subject, at), nil); err != nil {
		t.Fatal(err)
	}
}

func enqueue(t *testing.T, s Store, id, subject string) *Task {
	t.Helper()
	tk := newTask(id, subject, time.Unix(1, 0))
	if err := s.Enqueue(t.Context(), tk, bytes.NewReader([]byte("input of "+id)), Bounds{}, testJob{TaskID: id}, nil); err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestMigrationsApplyOnce: both dialects have the same versions, and
// reopening applies nothing again and keeps the rows.
func TestMigrationsApplyOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := d.open(t)
		v, err := s.Version(t.Context())
		if err != nil || v != len(sqliteMigrations)-1 || len(sqliteMigrations) != len(postgresMigrations) {
			t.Fatalf("version %d %v, want %d (both dialects)", v, err, len(sqliteMigrations)-1)
		}
		insert(t, s, "a", "", time.Unix(1, 0))
		s.Close()
		s2 := d.open(t)
		if _, err := s2.Lookup(t.Context(), "a"); err != nil {
			t.Fatalf("the row did not survive reopening: %v", err)
		}
	})
}

// TestNewerSchemaRefused: a database whose schema version is newer than
// this binary's is refused at open with a message that says so.
func TestNewerSchemaRefused(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := d.open(t)
		d.exec(t, s, `INSERT INTO lector_migrations (version, applied_at) VALUES (999, 0)`)
		s.Close()
		var err error
		switch s := s.(type) {
		case *SQLite:
			_, err = OpenSQLite(t.Context(), s.path)
		case *Postgres:
			_, err = OpenPostgres(t.Context(), s.pool.Config().ConnString())
		}
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte("newer than this lector")) {
			t.Fatalf("a database with a newer schema: %v", err)
		}
	})
}

// TestBlobsRoundTripInChunks: a blob over several chunks comes back whole,
// with its size; deleting blobs marks the results deleted.
func TestBlobsRoundTripInChunks(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := d.open(t)
		data := make([]byte, 2*ChunkSize+123)
		for i := range data {
			data[i] = byte(i * 7)
		}
		if err := s.Insert(t.Context(), newTask("a", "", time.Unix(1, 0)), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		size, ok, err := s.BlobSize(t.Context(), "a", "input")
		if err != nil || !ok || size != int64(len(data)) {
			t.Fatalf("size %d %v %v", size, ok, err)
		}
		var out bytes.Buffer
		if _, err := s.CopyBlob(t.Context(), &out, "a", "input"); err != nil || !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("copy: %v, equal %v", err, bytes.Equal(out.Bytes(), data))
		}
		now := time.Unix(100, 0)
		if err := s.DeleteBlobs(t.Context(), "a", now); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.BlobSize(t.Context(), "a", "input"); ok {
			t.Fatal("blob still there")
		}
		if tk, _ := s.Lookup(t.Context(), "a"); !tk.ResultsDeleted.Equal(now) {
			t.Fatalf("results deleted at %v", tk.ResultsDeleted)
		}
	})
}

// TestListIsNewestFirstPerSubjectAndPaginates, including tasks created at
// the same instant.
func TestListIsNewestFirstPerSubjectAndPaginates(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := d.open(t)
		at := time.Unix(1000, 0)
		for _, id := range []string{"t1", "t2", "t3"} {
			insert(t, s, id, "alice", at)
		}
		insert(t, s, "t0", "alice", at.Add(-time.Second))
		insert(t, s, "b1", "bob", at.Add(time.Hour))
		var got []string
		var cur *Cursor
		for {
			page, next, err := s.List(t.Context(), "alice", cur, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, tk := range page {
				got = append(got, tk.ID)
			}
			if next == nil {
				break
			}
			cur = next
		}
		if want := "t3 t2 t1 t0"; joinIDs(got) != want {
			t.Fatalf("listed %v, want %s", got, want)
		}
		if _, err := s.Get(context.Background(), "b1", "alice"); errcode.Of(err) != errcode.NotFound {
			t.Fatalf("another subject's task: %v, want not_found", err)
		}
		if n, err := s.Count(t.Context(), lector.Queued, lector.Running); err != nil || n != 5 {
			t.Fatalf("count %d %v, want 5", n, err)
		}
	})
}

// TestTaskLifecycle: a queued task with its River job runs (on a node, for
// an attempt), records progress, finishes with its outputs in one step; a
// finish for a stale attempt writes nothing.
func TestTaskLifecycle(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := d.open(t)
		withQueue(t, s, "node-a")
		tk := enqueue(t, s, "a", "alice")
		if tk.JobID == 0 {
			t.Fatal("no job ID")
		}
		now := time.Unix(50, 0)
		if ok, err := s.MarkRunning(t.Context(), "a", "node-a", 1, now); !ok || err != nil {
			t.Fatalf("mark running: %v %v", ok, err)
		}
		if err := s.Progress(t.Context(), "a", 1, 2, 1); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(t.Context(), "a", "alice")
		if err != nil || got.Status != lector.Running || got.Node != "node-a" || got.PagesDone != 1 || got.PagesText != 1 || got.Attempts != 1 || !got.StartedAt.Equal(now) {
			t.Fatalf("running task %+v %v", got, err)
		}
		o := Outcome{Status: lector.Succeeded, PagesDone: 2, PagesTotal: 2, PagesText: 1, FinishedAt: now.Add(time.Second)}
		if wrote, err := s.Finish(t.Context(), "a", 2, o, map[string][]byte{"txt": []byte("x")}); wrote || err != nil {
			t.Fatalf("a stale attempt's finish: wrote %v %v", wrote, err)
		}
		if wrote, err := s.Finish(t.Context(), "a", 1, o, map[string][]byte{"txt": []byte("hello"), "md": {}}); !wrote || err != nil {
			t.Fatalf("finish: wrote %v %v", wrote, err)
		}
		var out bytes.Buffer
		if _, err := s.CopyBlob(t.Context(), &out, "a", "txt"); err != nil || out.String() != "hello" {
			t.Fatalf("result %q %v", out.String(), err)
		}
		// An empty result (a blank page's Markdown) is stored, empty: not
		// missing, which the service answers as gone.
		if size, ok, err := s.BlobSize(t.Context(), "a", "md"); !ok || size != 0 || err != nil {
			t.Fatalf("the empty md result: size %d, stored %v, %v", size, ok, err)
		}
		if ok, _ := s.MarkRunning(t.Context(), "a", "node-a", 2, now); ok {
			t.Fatal("an ended task was marked running again")
		}
		got, _ = s.Lookup(t.Context(), "a")
		if got.Status != lector.Succeeded || got.PagesDone != 2 || got.PagesText != 1 {
			t.Fatalf("finished task %+v", got)
		}
	})
}

// TestCancel: a queued task ends canceled, a running one is marked
// cancel_requested, an ended one is deleted with its blobs.
func TestCancel(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := d.open(t)
		withQueue(t, s, "n")
		enqueue(t, s, "q", "")
		enqueue(t, s, "r", "")
		now := time.Unix(70, 0)
		if ok, err := s.MarkRunning(t.Context(), "r", "n", 1, now); !ok || err != nil {
			t.Fatal(ok, err)
		}
		row, what, err := s.Cancel(t.Context(), "q", now)
		if err != nil || what != CanceledQueued || row.Status != lector.Canceled || row.ErrorCode != string(errcode.Canceled) {
			t.Fatalf("queued: %v %+v %v", what, row, err)
		}
		row, what, err = s.Cancel(t.Context(), "r", now)
		if err != nil || what != CancelRequested || row.Status != lector.Running || !row.CancelRequested {
			t.Fatalf("running: %v %+v %v", what, row, err)
		}
		if ok, _ := s.MarkRunning(t.Context(), "r", "n", 2, now); ok {
			t.Fatal("a task asked to cancel was marked running again")
		}
		if _, what, err := s.Cancel(t.Context(), "q", now); err != nil || what != Deleted {
			t.Fatalf("ended: %v %v", what, err)
		}
		if _, err := s.Lookup(t.Context(), "q"); errcode.Of(err) != errcode.NotFound {
			t.Fatalf("deleted task: %v", err)
		}
		if _, ok, _ := s.BlobSize(t.Context(), "q", "input"); ok {
			t.Fatal("the deleted task's input is still stored")
		}
		if _, _, err := s.Cancel(t.Context(), "nope", now); errcode.Of(err) != errcode.NotFound {
			t.Fatalf("absent task: %v", err)
		}
	})
}

// TestQueueBoundsExactUnderConcurrentSubmissions: many submissions at once
// through three stores on one database (three nodes, for PostgreSQL): the
// bound admits exactly its count, the rest are QueueFullError; then the
// per-subject bound likewise.
func TestQueueBoundsExactUnderConcurrentSubmissions(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		var nodes []Store
		for i := range 3 {
			s := d.open(t)
			withQueue(t, s, "node-"+string(rune('a'+i)))
			nodes = append(nodes, s)
			if d.name == "sqlite" {
				break // one node: the file's lock is the data directory's
			}
		}
		try := func(n int, subject string, b Bounds) (ok, full int) {
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					id := subject + "-" + string(rune('A'+i/26)) + string(rune('a'+i%26))
					err := nodes[i%len(nodes)].Enqueue(t.Context(), newTask(id, subject, time.Unix(1, 0)),
						bytes.NewReader([]byte(id)), b, testJob{TaskID: id}, nil)
					var qf *QueueFullError
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						ok++
					case errors.As(err, &qf):
						full++
					default:
						t.Errorf("enqueue %s: %v", id, err)
					}
				})
			}
			wg.Wait()
			return ok, full
		}
		if ok, full := try(30, "alice", Bounds{Queued: 12, PerSubject: 100}); ok != 12 || full != 18 {
			t.Fatalf("bound 12: %d accepted, %d refused", ok, full)
		}
		if ok, full := try(20, "bob", Bounds{Queued: 100, PerSubject: 5}); ok != 5 || full != 15 {
			t.Fatalf("per-subject bound 5: %d accepted, %d refused", ok, full)
		}
		if n, err := nodes[0].Count(t.Context(), lector.Queued); err != nil || n != 17 {
			t.Fatalf("queued %d %v, want 17", n, err)
		}
	})
}

// TestWatchHearsChangesFromAnyNode: a watcher is signalled by a change
// made through another store on the same database (another node's, over
// NOTIFY, for PostgreSQL).
func TestWatchHearsChangesFromAnyNode(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		a := d.open(t)
		b := a
		if d.name == "postgres" {
			b = d.open(t)
		}
		withQueue(t, b, "node-b")
		enqueue(t, b, "w", "")
		ch, stop := a.Watch("w")
		defer stop()
		// The listener may still be connecting: a (re)connection signals
		// every watcher, so drain that first, then make the change.
		if pg, ok := a.(*Postgres); ok {
			waitListening(t, pg, ch)
		}
		if ok, err := b.MarkRunning(t.Context(), "w", "node-b", 1, time.Unix(1, 0)); !ok || err != nil {
			t.Fatal(ok, err)
		}
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("the watcher heard nothing of a change made on another node")
		}
		if got, _ := a.Lookup(t.Context(), "w"); got.Status != lector.Running {
			t.Fatalf("status %s after the signal", got.Status)
		}
	})
}

// TestWatchAllHearsEveryTaskFromAnyNode: a watcher of every task learns
// the ids of tasks submitted, changed and deleted through another store on
// the same database (another node's, over NOTIFY, for PostgreSQL).
func TestWatchAllHearsEveryTaskFromAnyNode(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		a := d.open(t)
		b := a
		if d.name == "postgres" {
			b = d.open(t)
		}
		withQueue(t, b, "node-b")
		changed, take, stop := a.WatchAll()
		defer stop()
		if pg, ok := a.(*Postgres); ok {
			waitListening(t, pg, changed)
			take()
		}
		heard := func(want string) {
			t.Helper()
			for {
				select {
				case <-changed:
				case <-t.Context().Done():
					t.Fatalf("the watcher of every task never heard of %s", want)
				}
				ids, _ := take()
				if slices.Contains(ids, want) {
					return
				}
			}
		}
		enqueue(t, b, "all-1", "alice")
		heard("all-1")
		if _, _, err := b.Cancel(t.Context(), "all-1", time.Unix(2, 0)); err != nil {
			t.Fatal(err)
		}
		heard("all-1")
		enqueue(t, b, "all-2", "bob")
		heard("all-2")
	})
}

// waitListening returns once s's listener is connected, and drains the
// signal its connection sent every watcher.
func waitListening(t *testing.T, s *Postgres, drain <-chan struct{}) {
	t.Helper()
	select {
	case <-s.listening:
	case <-t.Context().Done():
		t.Fatal("the listener never connected")
	}
	select {
	case <-drain:
	default:
	}
}

// TestDeadNodeRescue: a node that stops heartbeating is shown gone and its
// running tasks (and, for PostgreSQL, River jobs) go back to the queue,
// once; a live node's running tasks stay. SQLite recovers at start
// instead.
func TestDeadNodeRescue(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := d.open(t)
		withQueue(t, s, "live")
		t0 := time.Unix(1000, 0)
		for _, n := range []string{"dead", "live"} {
			if _, err := s.Heartbeat(t.Context(), Node{ID: n, Host: "h", StartedAt: t0, HeartbeatAt: t0}); err != nil {
				t.Fatal(err)
			}
		}
		enqueue(t, s, "d", "")
		enqueue(t, s, "l", "")
		for id, node := range map[string]string{"d": "dead", "l": "live"} {
			if ok, err := s.MarkRunning(t.Context(), id, node, 1, t0); !ok || err != nil {
				t.Fatal(ok, err)
			}
		}
		if !s.Shared() {
			n, err := s.Recover(t.Context())
			if err != nil || n != 2 {
				t.Fatalf("recovered %d %v, want 2", n, err)
			}
			return
		}
		d.exec(t, s, `UPDATE river_job SET state = 'running', attempted_by = ARRAY[?]`, "dead")
		d.exec(t, s, `UPDATE river_job SET attempted_by = ARRAY[?] WHERE args->>'task_id' = 'l'`, "live")
		t1 := t0.Add(time.Minute)
		if _, err := s.Heartbeat(t.Context(), Node{ID: "live", Host: "h", StartedAt: t0, HeartbeatAt: t1}); err != nil {
			t.Fatal(err)
		}
		nodes, err := s.Nodes(t.Context(), t1, 10*time.Second)
		if err != nil || len(nodes) != 2 || nodes[0].ID != "live" || nodes[0].Gone || !nodes[1].Gone {
			t.Fatalf("nodes %+v %v", nodes, err)
		}
		dead, n, err := s.RescueDeadNodes(t.Context(), t1, 10*time.Second)
		if err != nil || len(dead) != 1 || dead[0] != "dead" || n != 1 {
			t.Fatalf("rescued %v %d %v", dead, n, err)
		}
		if dead, n, err := s.RescueDeadNodes(t.Context(), t1, 10*time.Second); err != nil || len(dead) != 0 || n != 0 {
			t.Fatalf("rescued again: %v %d %v", dead, n, err)
		}
		if got, _ := s.Lookup(t.Context(), "d"); got.Status != lector.Queued {
			t.Fatalf("the dead node's task is %s", got.Status)
		}
		if got, _ := s.Lookup(t.Context(), "l"); got.Status != lector.Running {
			t.Fatalf("the live node's task is %s", got.Status)
		}
		pg := s.(*Postgres)
		var states []string
		rows, err := pg.pool.Query(t.Context(), `SELECT args->>'task_id' || '=' || state FROM river_job ORDER BY args->>'task_id', state`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var st string
			_ = rows.Scan(&st)
			states = append(states, st)
		}
		rows.Close()
		// The dead node's task has a fresh job; its old one is cancelled.
		if joinIDs(states) != "d=available d=cancelled l=running" {
			t.Fatalf("jobs %v", states)
		}
	})
}

func joinIDs(ids []string) string {
	var b bytes.Buffer
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(id)
	}
	return b.String()
}

// TestRedactHidesThePassword, for URLs that parse and ones that do not.
func TestRedactHidesThePassword(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://lector:s3cret@db:5432/lector?sslmode=disable": "postgres://lector@db:5432/lector?sslmode=disable",
		"postgres://lector:s3cret@db:notaport/lector":             "postgres://lector@db:notaport/lector",
		"postgres://lector@/lector?host=/tmp&password=s3cret":     "postgres://lector@/lector?host=%2Ftmp",
		"host=db user=lector password=s3cret":                     "host=db user=lector password=********",
		"/var/lib/lector/lector.db":                               "/var/lib/lector/lector.db",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
