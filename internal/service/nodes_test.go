package service

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/clock"
	"github.com/lector-ocr/lector/internal/pgtest"
	"github.com/lector-ocr/lector/internal/store"
)

// TestNoRescueRightAfterADatabaseOutage, on a real PostgreSQL server and a
// fake clock: a node and a peer (a row with a running task) heartbeat;
// the server stops for longer than the node timeout, so every heartbeat
// is old when it comes back; the node, healthy again, does not take the
// peer for dead before the peer has had a node timeout to beat again —
// and once the peer stays silent that long, its task goes back to the
// queue.
func TestNoRescueRightAfterADatabaseOutage(t *testing.T) {
	t.Parallel()
	pg := pgtest.New(t)
	url := pg.NewDatabase(t)
	ctx := t.Context()
	db, err := store.OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	turns := make(chan error, 1)
	s, err := New(Config{Store: db, Clock: clk, WorkDir: t.TempDir(), NodeID: "node",
		HeartbeatInterval: time.Second, NodeTimeout: 5 * time.Second, OnHeartbeat: func(err error) { turns <- err }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(ctx)
	peerBeat := func() {
		t.Helper()
		if _, err := db.Heartbeat(ctx, store.Node{ID: "peer", StartedAt: start, HeartbeatAt: clk.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	peerBeat()
	tk := &store.Task{ID: "p", Status: lector.Queued, Pipeline: "ocr", Model: "m", Priority: "normal", DeviceRequest: "auto", CreatedAt: start}
	if err := db.Enqueue(ctx, tk, bytes.NewReader([]byte("x")), store.Bounds{}, jobArgs{TaskID: "p"}, &river.InsertOpts{Queue: "elsewhere"}); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.MarkRunning(ctx, "p", "peer", 1, start); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if !clk.WaitPending(1, ctx.Done()) {
		t.Fatal("no heartbeat ticker")
	}
	turn := func(wantErr bool) {
		t.Helper()
		clk.Advance(time.Second)
		if err := <-turns; (err != nil) != wantErr {
			t.Fatalf("heartbeat turn at %s: %v", clk.Now().Sub(start), err)
		}
	}
	status := func() lector.Status {
		t.Helper()
		got, err := db.Lookup(ctx, "p")
		if err != nil {
			t.Fatal(err)
		}
		return got.Status
	}
	turn(false)
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		turn(true)
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	for { // the pool's first use of a connection the server closed fails; the next is new
		clk.Advance(time.Second)
		if err := <-turns; err == nil {
			break
		}
	}
	// The peer's heartbeat is 11 s old, past the timeout; the node has been
	// healthy for less than one: no rescue.
	if st := status(); st != lector.Running {
		t.Fatalf("right after the outage the peer's task is %s", st)
	}
	peerBeat()
	for range 4 {
		turn(false)
	}
	if st := status(); st != lector.Running {
		t.Fatalf("with the peer beating again its task is %s", st)
	}
	for range 6 { // the peer stays silent past the timeout
		turn(false)
	}
	if st := status(); st != lector.Queued {
		t.Fatalf("the silent peer's task is %s, want queued", st)
	}
	nodes, err := s.Nodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[0].ID != "node" || nodes[0].Gone || nodes[1].ID != "peer" || !nodes[1].Gone {
		t.Fatalf("nodes %+v %v", nodes, err)
	}
}

// TestANodeDeclaredGoneStopsTheRunsGivenAway, on a real PostgreSQL server
// and a fake clock: the node runs task p (its attempt 1) and task q
// (started after the rescue); a peer declares the node dead (its
// heartbeats were late) and p goes back to the queue. At its next
// heartbeat the node learns it, is live again (shown so, and rescued
// again should it die later), and stops its run of p, not q's.
func TestANodeDeclaredGoneStopsTheRunsGivenAway(t *testing.T) {
	t.Parallel()
	pg := pgtest.New(t)
	ctx := t.Context()
	db, err := store.OpenPostgres(ctx, pg.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	turns := make(chan error, 1)
	s, err := New(Config{Store: db, Clock: clk, WorkDir: t.TempDir(), NodeID: "node",
		HeartbeatInterval: time.Second, NodeTimeout: 5 * time.Second, OnHeartbeat: func(err error) { turns <- err }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(ctx)
	run := func(id string) <-chan struct{} {
		t.Helper()
		tk := &store.Task{ID: id, Status: lector.Queued, Pipeline: "ocr", Model: "m", Priority: "normal", DeviceRequest: "auto", CreatedAt: start}
		if err := db.Enqueue(ctx, tk, bytes.NewReader([]byte("x")), store.Bounds{}, jobArgs{TaskID: id}, &river.InsertOpts{Queue: "elsewhere"}); err != nil {
			t.Fatal(err)
		}
		if ok, err := db.MarkRunning(ctx, id, "node", 1, start); !ok || err != nil {
			t.Fatal(ok, err)
		}
		rctx, cancel := context.WithCancel(ctx)
		s.mu.Lock()
		s.running[id] = cancel
		s.mu.Unlock()
		return rctx.Done()
	}
	stoppedP := run("p")
	// The peer, 10 s on, takes the node for dead.
	dead, n, err := db.RescueDeadNodes(ctx, start.Add(10*time.Second), 5*time.Second)
	if err != nil || len(dead) != 1 || dead[0] != "node" || n != 1 {
		t.Fatalf("rescue: %v %d %v", dead, n, err)
	}
	stoppedQ := run("q")
	if !clk.WaitPending(1, ctx.Done()) {
		t.Fatal("no heartbeat ticker")
	}
	clk.Advance(time.Second)
	if err := <-turns; err != nil {
		t.Fatal(err)
	}
	select {
	case <-stoppedP:
	default:
		t.Fatal("the run of p, given away, goes on")
	}
	select {
	case <-stoppedQ:
		t.Fatal("the run of q, this node's, was stopped")
	default:
	}
	nodes, err := s.Nodes(ctx)
	if err != nil || len(nodes) != 1 || nodes[0].Gone {
		t.Fatalf("the node, beating again, is not live: %+v %v", nodes, err)
	}
	// It dies later: q is rescued (before, the node stayed gone and was
	// never taken for dead again).
	dead, n, err = db.RescueDeadNodes(ctx, clk.Now().Add(time.Minute), 5*time.Second)
	if err != nil || len(dead) != 1 || n != 1 {
		t.Fatalf("second rescue: %v %d %v", dead, n, err)
	}
}

// TestStopGivesStrandedTasksAFreshJob, on a real PostgreSQL server: a task
// returned to the queue as the node stopped whose River job was left
// running here (the snooze never reached the database) gets a fresh job
// when the node leaves; before, nothing would ever run it.
func TestStopGivesStrandedTasksAFreshJob(t *testing.T) {
	t.Parallel()
	pg := pgtest.New(t)
	url := pg.NewDatabase(t)
	ctx := t.Context()
	db, err := store.OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := New(Config{Store: db, WorkDir: t.TempDir(), NodeID: "node"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	tk := &store.Task{ID: "p", Status: lector.Queued, Pipeline: "ocr", Model: "m", Priority: "normal", DeviceRequest: "auto", CreatedAt: time.Now()}
	if err := db.Enqueue(ctx, tk, bytes.NewReader([]byte("x")), store.Bounds{}, jobArgs{TaskID: "p"}, &river.InsertOpts{Queue: "elsewhere"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_by = ARRAY['node'] WHERE id = $1`, tk.JobID); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := db.Lookup(ctx, "p")
	if err != nil || got.Status != lector.Queued || got.JobID == tk.JobID {
		t.Fatalf("after the stop: %+v %v (old job %d)", got, err, tk.JobID)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var state string
	if err := conn.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, got.JobID).Scan(&state); err != nil || state != "available" {
		t.Fatalf("the task's new job is %q %v", state, err)
	}
}
