package store

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/pgtest"
)

// jobOf returns task id's job ID and the job's River state.
func jobOf(t *testing.T, s *Postgres, id string) (int64, string) {
	t.Helper()
	var job int64
	var state string
	err := s.pool.QueryRow(t.Context(), `SELECT t.job_id, COALESCE(j.state::text, 'none') FROM lector_tasks t
		LEFT JOIN river_job j ON j.id = t.job_id WHERE t.id = $1`, id).Scan(&job, &state)
	if err != nil {
		t.Fatal(err)
	}
	return job, state
}

// fetch plays River's producer on node fetching job: running, attempt + 1,
// node last of attempted_by.
func fetch(t *testing.T, s *Postgres, job int64, node string) int {
	t.Helper()
	var attempt int
	err := s.pool.QueryRow(t.Context(), `UPDATE river_job SET state = 'running', attempt = attempt + 1, attempted_at = now(),
		attempted_by = array_append(attempted_by, $2) WHERE id = $1 AND state = 'available' RETURNING attempt`, job, node).Scan(&attempt)
	if err != nil {
		t.Fatalf("fetching job %d: %v", job, err)
	}
	return attempt
}

// complete completes job as River's worker does when Work returns nil
// (river.JobCompleteTx: the same JobSetStateIfRunning as the completer).
func complete(t *testing.T, s *Postgres, job int64) {
	t.Helper()
	err := pgx.BeginFunc(t.Context(), s.pool, func(tx pgx.Tx) error {
		var row rivertype.JobRow
		if err := tx.QueryRow(t.Context(), `SELECT id, state FROM river_job WHERE id = $1`, job).Scan(&row.ID, &row.State); err != nil {
			return err
		}
		_, err := river.JobCompleteTx[*riverpgxv5.Driver](t.Context(), tx, &river.Job[testJob]{JobRow: &row})
		return err
	})
	if err != nil {
		t.Logf("completing job %d: %v", job, err)
	}
}

// TestNoTaskStrandedByAStaleWorker, on a real PostgreSQL server, the
// exact sequence of issue 20's lost task: node A runs task T (job J); A is
// paused past the node timeout; B declares A dead, T goes back to the
// queue and B starts attempt 2; A resumes and finishes first (its result
// is refused) and its worker completes the job it holds; then B is killed
// and declared dead: T is queued again and must have a live job — before,
// both runs shared J, which A's completion had finalized, and T stayed
// queued forever. A queued task whose job is finalized anyway (a stop's
// requeue) is given a fresh job by RequeueStranded.
func TestNoTaskStrandedByAStaleWorker(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := OpenPostgres(ctx, pgtest.Shared(t).NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	withQueue(t, s, "b")
	t0 := time.Unix(1000, 0)
	beat := func(node string, at time.Time) bool {
		t.Helper()
		gone, err := s.Heartbeat(ctx, Node{ID: node, Host: "h", StartedAt: t0, HeartbeatAt: at})
		if err != nil {
			t.Fatal(err)
		}
		return gone
	}
	rescue := func(at time.Time, want string) {
		t.Helper()
		dead, n, err := s.RescueDeadNodes(ctx, at, 10*time.Second)
		if err != nil || len(dead) != 1 || dead[0] != want || n != 1 {
			t.Fatalf("rescue at %v: %v %d %v, want %s's task", at.Sub(t0), dead, n, err, want)
		}
	}
	beat("a", t0)
	beat("b", t0)
	enqueue(t, s, "T", "")
	j, _ := jobOf(t, s, "T")
	attemptA := fetch(t, s, j, "a")
	if ok, err := s.MarkRunning(ctx, "T", "a", attemptA, t0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	// A is paused; B beats on and declares it dead.
	t1 := t0.Add(time.Minute)
	beat("b", t1)
	rescue(t1, "a")
	j2, state := jobOf(t, s, "T")
	if j2 == j || state != "available" {
		t.Fatalf("after A's rescue T's job is %d (%s); A's was %d", j2, state, j)
	}
	attemptB := fetch(t, s, j2, "b")
	if attemptB == attemptA {
		t.Fatalf("B's attempt %d is A's", attemptB)
	}
	if ok, err := s.MarkRunning(ctx, "T", "b", attemptB, t1); !ok || err != nil {
		t.Fatal(ok, err)
	}
	// A resumes: it learns it was declared gone, its result is refused,
	// its stale requeue changes nothing, and its worker completes J.
	if !beat("a", t1) {
		t.Fatal("A's heartbeat did not report that it had been declared gone")
	}
	if wrote, err := s.Finish(ctx, "T", attemptA, Outcome{Status: lector.Succeeded, FinishedAt: t1}, nil); wrote || err != nil {
		t.Fatalf("A's stale result: wrote %v %v", wrote, err)
	}
	if err := s.Requeue(ctx, "T", "a", attemptA); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Lookup(ctx, "T"); got.Status != lector.Running || got.Node != "b" {
		t.Fatalf("after A's stale requeue T is %s on %q", got.Status, got.Node)
	}
	complete(t, s, j)
	// B is killed -9; A (live again) declares it dead.
	t2 := t1.Add(time.Minute)
	beat("a", t2)
	rescue(t2, "b")
	got, err := s.Lookup(ctx, "T")
	if err != nil || got.Status != lector.Queued {
		t.Fatalf("after B's rescue T is %v %v", got, err)
	}
	if j3, state := jobOf(t, s, "T"); j3 == j || j3 == j2 || state != "available" {
		t.Fatalf("T is queued with job %d (%s): nothing would run it", j3, state)
	}

	// A stop's requeue whose job was completed anyway: the sweep gives the
	// task a fresh job, once.
	enqueue(t, s, "U", "")
	ju, _ := jobOf(t, s, "U")
	if _, err := s.pool.Exec(ctx, `UPDATE river_job SET state = 'completed', finalized_at = now() WHERE id = $1`, ju); err != nil {
		t.Fatal(err)
	}
	ids, err := s.RequeueStranded(ctx, t2)
	if err != nil || len(ids) != 1 || ids[0] != "U" {
		t.Fatalf("swept %v %v, want [U]", ids, err)
	}
	if j, state := jobOf(t, s, "U"); j == ju || state != "available" {
		t.Fatalf("U's job after the sweep: %d %s", j, state)
	}
	if ids, err := s.RequeueStranded(ctx, t2); err != nil || len(ids) != 0 {
		t.Fatalf("swept again: %v %v", ids, err)
	}
	// A stop whose snooze never reached the database: the task queued, its
	// job still running on the node, which then left. Another queued task's
	// job just fetched by a live node (not yet marked running) stays.
	enqueue(t, s, "V", "")
	enqueue(t, s, "W", "")
	jv, _ := jobOf(t, s, "V")
	jw, _ := jobOf(t, s, "W")
	beat("c", t2)
	fetch(t, s, jv, "c")
	fetch(t, s, jw, "a")
	if err := s.Leave(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if ids, err := s.RequeueStranded(ctx, t2); err != nil || len(ids) != 1 || ids[0] != "V" {
		t.Fatalf("swept %v %v, want [V]", ids, err)
	}
	if j, state := jobOf(t, s, "W"); j != jw || state != "running" {
		t.Fatalf("W's job, running on live node a: %d %s", j, state)
	}
}

// TestConnectErrorsAreLeads, on a real PostgreSQL server: a wrong
// password, a missing database and an unknown user are reported as such,
// not as "cannot reach"; a server nobody answers is "cannot reach".
func TestConnectErrorsAreLeads(t *testing.T) {
	t.Parallel()
	pg := pgtest.Shared(t)
	url := pg.NewDatabase(t)
	pg.PasswordUser(t, "pwuser", "right-pw")
	for dsn, want := range map[string]string{
		strings.Replace(url, pgtest.User+"@", "pwuser:s3cret@", 1):    `refused the password for user "pwuser"`,
		strings.Replace(url, pgtest.User+"@", "pwuser@", 1):           `asks user "pwuser" for a password and none was given`,
		strings.Replace(url, "/t", "/nosuchdb", 1):                    `" does not exist on /`,
		strings.Replace(url, pgtest.User+"@", "nobody:s3cret@", 1):    `refused user "nobody": role "nobody" does not exist`,
		"postgres://lector:s3cret@/x?host=" + t.TempDir() + "&port=1": "cannot reach the database",
	} {
		s, err := OpenPostgres(t.Context(), dsn)
		if err == nil {
			s.Close()
			t.Fatalf("%s opened", dsn)
		}
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: %v, want %q and no password", Redact(dsn), err, want)
		}
	}
}

// TestLeftIsNotDeclaredGone: a node that left cleanly is listed gone and
// left (shown "stopped"), and a heartbeat under its ID later does not
// report it declared gone (nothing of it was given away).
func TestLeftIsNotDeclaredGone(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := d.open(t)
		t0 := time.Unix(1000, 0)
		if _, err := s.Heartbeat(t.Context(), Node{ID: "n", StartedAt: t0, HeartbeatAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.Leave(t.Context(), "n"); err != nil {
			t.Fatal(err)
		}
		nodes, err := s.Nodes(t.Context(), t0, time.Minute)
		if err != nil || len(nodes) != 1 || !nodes[0].Gone || !nodes[0].Left {
			t.Fatalf("after Leave: %+v %v", nodes, err)
		}
		if gone, err := s.Heartbeat(t.Context(), Node{ID: "n", StartedAt: t0, HeartbeatAt: t0}); gone || err != nil {
			t.Fatalf("a heartbeat after Leave reports declared gone: %v %v", gone, err)
		}
	})
}
