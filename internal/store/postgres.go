package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/errcode"
)

// Postgres is the shared store: several nodes on one PostgreSQL server. A
// pgx pool serves Lector's queries and River's driver (riverpgxv5); task
// events travel as NOTIFY lector_task (payload: the task ID), sent in the
// transaction that makes the change, and one dedicated connection per node
// LISTENs and signals the node's watchers. Queue bounds are exact under
// concurrent submissions on every node: the count and the job's insert run
// under a transaction-level advisory lock (queueLockKey).
type Postgres struct {
	pool  *pgxpool.Pool
	desc  string
	hub   *hub
	river *river.Client[pgx.Tx]

	stop context.CancelFunc
	wg   sync.WaitGroup
	// from and to are the schema versions before and after Open's
	// migrations (equal: nothing applied; from 0: created).
	from, to int
	// listening is closed when the listener first LISTENs.
	listening  chan struct{}
	listenOnce sync.Once
}

var _ Store = (*Postgres)(nil)

// Advisory lock keys (pg_advisory_*): one for migrations, one for queue
// bounds. Arbitrary constants ("LECT" and "LECQ" as ASCII).
const (
	migrateLockKey = 0x4c454354
	queueLockKey   = 0x4c454351
)

// notifyChannel is the LISTEN/NOTIFY channel of task changes.
const notifyChannel = "lector_task"

// postgresMigrations mirror sqliteMigrations one for one (the same
// version is the same schema): instants are Unix nanoseconds (BIGINT) and
// booleans 0/1 in both dialects, so that rows scan alike.
var postgresMigrations = []string{
	1: `
CREATE TABLE lector_tasks (
	id               TEXT PRIMARY KEY,
	subject          TEXT NOT NULL DEFAULT '',
	status           TEXT NOT NULL,
	pipeline         TEXT NOT NULL,
	model            TEXT NOT NULL,
	formats          TEXT NOT NULL,
	priority         TEXT NOT NULL,
	device_request   TEXT NOT NULL,
	keep_alive_ns    BIGINT,
	filename         TEXT NOT NULL DEFAULT '',
	media_type       TEXT NOT NULL DEFAULT '',
	input_bytes      BIGINT NOT NULL DEFAULT 0,
	pages_done       INTEGER NOT NULL DEFAULT 0,
	pages_total      INTEGER NOT NULL DEFAULT 0,
	error_code       TEXT NOT NULL DEFAULT '',
	error_message    TEXT NOT NULL DEFAULT '',
	resources        TEXT NOT NULL DEFAULT '',
	attempts         INTEGER NOT NULL DEFAULT 0,
	job_id           BIGINT NOT NULL DEFAULT 0,
	sync             INTEGER NOT NULL DEFAULT 0,
	cancel_requested INTEGER NOT NULL DEFAULT 0,
	created_at       BIGINT NOT NULL,
	started_at       BIGINT NOT NULL DEFAULT 0,
	finished_at      BIGINT NOT NULL DEFAULT 0,
	results_deleted  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX lector_tasks_by_subject ON lector_tasks (subject, created_at DESC, id DESC);
CREATE INDEX lector_tasks_by_status ON lector_tasks (status);
CREATE TABLE lector_blobs (
	task_id TEXT NOT NULL REFERENCES lector_tasks (id) ON DELETE CASCADE,
	name    TEXT NOT NULL,
	seq     INTEGER NOT NULL,
	data    BYTEA NOT NULL,
	PRIMARY KEY (task_id, name, seq)
);`,
	2: `
ALTER TABLE lector_tasks ADD COLUMN node TEXT NOT NULL DEFAULT '';
CREATE INDEX lector_tasks_by_node ON lector_tasks (node) WHERE status = 'running';
CREATE TABLE lector_nodes (
	id           TEXT PRIMARY KEY,
	host         TEXT NOT NULL DEFAULT '',
	addr         TEXT NOT NULL DEFAULT '',
	started_at   BIGINT NOT NULL,
	heartbeat_at BIGINT NOT NULL,
	gone         INTEGER NOT NULL DEFAULT 0,
	info         BYTEA
);`,
	3: learnedMigrationPostgres,
	4: `ALTER TABLE lector_tasks ADD COLUMN pages_text INTEGER NOT NULL DEFAULT 0;`,
}

// connectTimeout bounds the first connection at Open.
const connectTimeout = 10 * time.Second

// defaultMaxConns is a node's pool size unless the URL sets pool_max_conns.
const defaultMaxConns = 16

// OpenPostgres connects to the server named by dsn (a postgres:// URL),
// applies Lector's and River's migrations (under an advisory lock, so nodes
// starting together migrate once) and starts listening for task events.
// A server that cannot be reached is an error naming the database without
// its password.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	desc := Redact(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		msg := err.Error()
		if u, perr := url.Parse(dsn); perr == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok && pw != "" {
				msg = strings.ReplaceAll(msg, pw, "********")
			}
		}
		return nil, fmt.Errorf("store: the database URL %s is not valid: %s", desc, msg)
	}
	cfg.ConnConfig.ConnectTimeout = connectTimeout
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgx's default (the CPU count, at least 4) is too few for River's
		// listener, producer and completer beside the workers and requests.
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %s", desc, scrub(err.Error(), cfg))
	}
	s := &Postgres{pool: pool, desc: desc, hub: newHub(), listening: make(chan struct{})}
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	err = pool.Ping(pctx)
	cancel()
	if err != nil {
		pool.Close()
		return nil, connectError(err, desc, cfg)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	lctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.wg.Go(func() { s.listen(lctx) })
	return s, nil
}

// connectError says why a first connection failed, as a lead: the
// server's answer when it gave one (SQLSTATE 28P01: the password; 28000:
// the user, or no pg_hba.conf line for it; 3D000: no such database),
// else that the server cannot be reached (refused, timed out, TLS). pgx
// tries each fallback (sslmode=prefer: TLS, then plain) and reports the
// first failure, often a TLS one, before the server's answer to the
// next; the server's answer, when any, is the lead.
func connectError(err error, desc string, cfg *pgxpool.Config) error {
	cc := cfg.ConnConfig
	where := fmt.Sprintf("%s:%d", cc.Host, cc.Port)
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01":
			if cc.Password == "" {
				return errcode.New(errcode.InvalidArgument, "the database server %s asks user %q for a password and none was given: put it in the URL (postgres://user:password@host:port/db) or in PGPASSWORD (%s)", where, cc.User, desc)
			}
			return errcode.New(errcode.InvalidArgument, "the database server %s refused the password for user %q (%s)", where, cc.User, desc)
		case "28000":
			return errcode.New(errcode.InvalidArgument, "the database server %s refused user %q: %s (%s)", where, cc.User, scrub(pe.Message, cfg), desc)
		case "3D000":
			return errcode.New(errcode.InvalidArgument, "database %q does not exist on %s (%s)", cc.Database, where, desc)
		}
	}
	return errcode.New(errcode.Unavailable, "cannot reach the database %s: %s", desc, scrub(err.Error(), cfg))
}

// scrub removes the password from a driver message (pgx names the user,
// host and database, not the password; this is a second guard).
func scrub(msg string, cfg *pgxpool.Config) string {
	if cfg != nil && cfg.ConnConfig != nil && cfg.ConnConfig.Password != "" {
		msg = strings.ReplaceAll(msg, cfg.ConnConfig.Password, "********")
	}
	return msg
}

func (s *Postgres) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.fail(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
		return s.fail(err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLockKey) //nolint:errcheck // released with the session anyway
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS lector_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	var have int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM lector_migrations`).Scan(&have); err != nil {
		return err
	}
	if have >= len(postgresMigrations) {
		return newerSchema(have, len(postgresMigrations)-1)
	}
	s.from, s.to = have, len(postgresMigrations)-1
	for v := have + 1; v < len(postgresMigrations); v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, postgresMigrations[v]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO lector_migrations (version, applied_at) VALUES ($1, $2)`, v, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migration %d: %w", v, err)
		}
	}
	m, err := rivermigrate.New(riverpgxv5.New(s.pool), nil)
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("store: river migrations: %w", err)
	}
	return nil
}

// listen keeps one connection LISTENing on notifyChannel and signals the
// watchers of each task named; after every (re)connection it signals every
// watcher, since changes made meanwhile were not heard.
func (s *Postgres) listen(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
		if err == nil {
			if _, err = conn.Exec(ctx, `LISTEN `+notifyChannel); err == nil {
				backoff = 50 * time.Millisecond
				s.hub.publishAll()
				s.listenOnce.Do(func() { close(s.listening) })
				for {
					n, werr := conn.WaitForNotification(ctx)
					if werr != nil {
						break
					}
					s.hub.publish(n.Payload)
				}
			}
			conn.Close(context.Background())
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// Migrated returns Lector's schema version before and after this Open's
// migrations (equal when this node applied none; from 0 when it created
// the schema), for the node's log.
func (s *Postgres) Migrated() (from, to int) { return s.from, s.to }

func (s *Postgres) Dialect() string  { return "postgres" }
func (s *Postgres) Describe() string { return s.desc }
func (s *Postgres) Shared() bool     { return true }

func (s *Postgres) Close() error {
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
	s.pool.Close()
	return nil
}

// Exec runs one statement outside any transaction (tests, tools).
func (s *Postgres) Exec(ctx context.Context, q string, args ...any) error {
	_, err := s.pool.Exec(ctx, q, args...)
	return s.fail(err)
}

// fail maps an error that means the server cannot be reached (refused or
// lost connection, shut down, starting up, out of connections) to
// unavailable (Retry-After outageRetryAfter), whose message names no
// database and whose text names it without its password.
func (s *Postgres) fail(err error) error {
	if err == nil || errcode.Of(err) != errcode.Internal {
		return err
	}
	if unreachable(err) {
		// The client's message names no host or user; the error's text
		// (logs) keeps the database, without its password, and the cause.
		e := errcode.Wrap(errcode.Unavailable, fmt.Errorf("%s: %w", s.desc, err), "the database cannot be reached; try again shortly")
		e.RetryAfter = outageRetryAfter
		return e
	}
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "53100" { // disk_full: the server's storage
		return errcode.StorageFault(err)
	}
	return err
}

// outageRetryAfter is the Retry-After of every answer refused because the
// database cannot be reached: one figure (a node's drain rate says
// nothing about when the database is back), the server's default for a
// 503.
const outageRetryAfter = 5 * time.Second

func unreachable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// 08: connection exception; 57P0x: shutdown, crash, cannot connect
		// now; 53300: too many connections.
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P") || pe.Code == "53300"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "closed pool")
}

func (s *Postgres) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return s.fail(pgx.BeginFunc(ctx, s.pool, fn))
}

func (s *Postgres) Version(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM lector_migrations`).Scan(&v)
	return v, s.fail(err)
}

func (s *Postgres) NewQueue(cfg *river.Config, node string) (Queue, error) {
	if node != "" {
		cfg.ID = node
	}
	rc, err := river.NewClient(riverpgxv5.New(s.pool), cfg)
	if err != nil {
		return nil, err
	}
	s.river = rc
	return rc, nil
}

func notify(ctx context.Context, tx pgx.Tx, id string) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, id)
	return err
}

func pgInsert(ctx context.Context, tx pgx.Tx, t *Task) error {
	var ka *int64
	if t.KeepAlive != nil {
		v := int64(*t.KeepAlive)
		ka = &v
	}
	_, err := tx.Exec(ctx, `INSERT INTO lector_tasks (id, subject, status, pipeline, model, formats, priority, device_request,
		keep_alive_ns, filename, media_type, input_bytes, pages_done, pages_total, pages_text, error_code, error_message, resources, attempts,
		job_id, sync, node, created_at, started_at, finished_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25)`,
		t.ID, t.Subject, string(t.Status), string(t.Pipeline), t.Model, strings.Join(t.Formats, ","), string(t.Priority), t.DeviceRequest,
		ka, t.Filename, t.MediaType, t.InputBytes, t.PagesDone, t.PagesTotal, t.PagesText, t.ErrorCode, t.ErrorMessage, t.Resources, t.Attempts,
		t.JobID, b2i(t.Sync), t.Node, ns(t.CreatedAt), ns(t.StartedAt), ns(t.FinishedAt))
	return err
}

func pgPutBlob(ctx context.Context, tx pgx.Tx, id, name string, r io.Reader) (int64, error) {
	return readChunks(r, ChunkSize, func(seq int, data []byte) error {
		_, err := tx.Exec(ctx, `INSERT INTO lector_blobs (task_id, name, seq, data) VALUES ($1, $2, $3, $4)`, id, name, seq, data)
		return err
	})
}

func (s *Postgres) Enqueue(ctx context.Context, t *Task, input io.Reader, b Bounds, args river.JobArgs, opts *river.InsertOpts) error {
	if s.river == nil {
		return errors.New("store: Enqueue before NewQueue")
	}
	t.Status = lector.Queued
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// The row and its input first, outside the lock (a large input
		// takes a while); then, under the lock, the bounds (the queued tasks
		// committed by every node, this one not counted) and the job. The
		// lock is held to commit, so the next submission counts this one.
		if err := pgInsert(ctx, tx, t); err != nil {
			return err
		}
		if input != nil {
			if _, err := pgPutBlob(ctx, tx, t.ID, "input", input); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, queueLockKey); err != nil {
			return err
		}
		var all, mine int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE subject = $1) FROM lector_tasks
			WHERE status = 'queued' AND id <> $2`, t.Subject, t.ID).Scan(&all, &mine); err != nil {
			return err
		}
		if err := checkBounds(b, all, mine); err != nil {
			return err
		}
		res, err := s.river.InsertTx(ctx, tx, args, opts)
		if err != nil {
			return err
		}
		t.JobID = res.Job.ID
		if _, err := tx.Exec(ctx, `UPDATE lector_tasks SET job_id = $1 WHERE id = $2`, t.JobID, t.ID); err != nil {
			return err
		}
		return notify(ctx, tx, t.ID)
	})
	if err == nil {
		s.hub.publish(t.ID)
	}
	return err
}

func (s *Postgres) Insert(ctx context.Context, t *Task, input io.Reader) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := pgInsert(ctx, tx, t); err != nil {
			return err
		}
		if input != nil {
			if _, err := pgPutBlob(ctx, tx, t.ID, "input", input); err != nil {
				return err
			}
		}
		return notify(ctx, tx, t.ID)
	})
	if err == nil {
		s.hub.publish(t.ID)
	}
	return err
}

func pgFinish(ctx context.Context, tx pgx.Tx, id string, o Outcome) error {
	_, err := tx.Exec(ctx, `UPDATE lector_tasks SET status = $1, error_code = $2, error_message = $3, resources = $4,
		pages_done = $5, pages_total = $6, pages_text = $7, finished_at = $8 WHERE id = $9`,
		string(o.Status), o.ErrorCode, o.ErrorMessage, o.Resources, o.PagesDone, o.PagesTotal, o.PagesText, ns(o.FinishedAt), id)
	return err
}

func (s *Postgres) Cancel(ctx context.Context, id string, now time.Time) (*Task, CancelResult, error) {
	var row *Task
	var what CancelResult
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if row, err = scanTask(tx.QueryRow(ctx, `SELECT `+taskColumns+` FROM lector_tasks WHERE id = $1 FOR UPDATE`, id)); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound(id)
			}
			return err
		}
		switch {
		case row.Status.Final():
			what = Deleted
			_, err = tx.Exec(ctx, `DELETE FROM lector_tasks WHERE id = $1`, id)
		case row.Status == lector.Queued:
			what = CanceledQueued
			canceledByRequest(row, now)
			err = pgFinish(ctx, tx, id, outcomeOf(row))
		default:
			what = CancelRequested
			row.CancelRequested = true
			_, err = tx.Exec(ctx, `UPDATE lector_tasks SET cancel_requested = 1 WHERE id = $1`, id)
		}
		if err != nil {
			return err
		}
		if row.JobID != 0 && s.river != nil {
			// For a running job River notifies the producer working it,
			// on whichever node, which cancels the job's context.
			if _, err := s.river.JobCancelTx(ctx, tx, row.JobID); err != nil && !errors.Is(err, river.ErrNotFound) {
				return err
			}
		}
		return notify(ctx, tx, id)
	})
	if err != nil {
		return nil, 0, err
	}
	s.hub.publish(id)
	return row, what, nil
}

func (s *Postgres) get(ctx context.Context, q, id string, args ...any) (*Task, error) {
	t, err := scanTask(s.pool.QueryRow(ctx, q, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(id)
	}
	return t, s.fail(err)
}

func (s *Postgres) Get(ctx context.Context, id, subject string) (*Task, error) {
	return s.get(ctx, `SELECT `+taskColumns+` FROM lector_tasks WHERE id = $1 AND subject = $2`, id, id, subject)
}

func (s *Postgres) Lookup(ctx context.Context, id string) (*Task, error) {
	return s.get(ctx, `SELECT `+taskColumns+` FROM lector_tasks WHERE id = $1`, id, id)
}

func (s *Postgres) List(ctx context.Context, subject string, after *Cursor, limit int) ([]*Task, *Cursor, error) {
	q := `SELECT ` + taskColumns + ` FROM lector_tasks WHERE subject = $1`
	args := []any{subject}
	if after != nil {
		q += ` AND (created_at < $2 OR (created_at = $2 AND id < $3))`
		args = append(args, ns(after.CreatedAt), after.ID)
	}
	q += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d`, len(args)+1)
	args = append(args, limit+1)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, nil, s.fail(err)
	}
	defer rows.Close()
	var out []*Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, nil, s.fail(err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, s.fail(err)
	}
	out, next := page(out, limit)
	return out, next, nil
}

func (s *Postgres) Count(ctx context.Context, statuses ...lector.Status) (int, error) {
	names := make([]string, len(statuses))
	for i, st := range statuses {
		names[i] = string(st)
	}
	var n int
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM lector_tasks WHERE status = ANY($1)`, names).Scan(&n)
	return n, s.fail(err)
}

// update runs an UPDATE … RETURNING id and notifies each task changed, in
// one statement; it returns how many rows changed.
func (s *Postgres) update(ctx context.Context, q string, args ...any) (int, error) {
	rows, err := s.pool.Query(ctx, `WITH u AS (`+q+` RETURNING id) SELECT u.id, pg_notify('`+notifyChannel+`', u.id) FROM u`, args...)
	if err != nil {
		return 0, s.fail(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id string
		var ignored any
		if err := rows.Scan(&id, &ignored); err != nil {
			return n, s.fail(err)
		}
		s.hub.publish(id)
		n++
	}
	return n, s.fail(rows.Err())
}

func (s *Postgres) MarkRunning(ctx context.Context, id, node string, attempt int, now time.Time) (bool, error) {
	n, err := s.update(ctx, `UPDATE lector_tasks SET status = 'running', attempts = $1, started_at = $2, pages_done = 0, node = $3
		WHERE id = $4 AND status IN ('queued', 'running') AND cancel_requested = 0`, attempt, ns(now), node, id)
	return n == 1, err
}

func (s *Postgres) Progress(ctx context.Context, id string, done, total, text int) error {
	_, err := s.update(ctx, `UPDATE lector_tasks SET pages_done = $1, pages_total = $2, pages_text = $3 WHERE id = $4`, done, total, text, id)
	return err
}

func (s *Postgres) Requeue(ctx context.Context, id, node string, attempt int) error {
	_, err := s.update(ctx, `UPDATE lector_tasks SET status = 'queued', pages_done = 0
		WHERE id = $1 AND status = 'running' AND node = $2 AND attempts = $3`, id, node, attempt)
	return err
}

// pgFreshJob gives queued task id a new River job, available now: a copy
// of the task's current job (kind, args, queue, priority, max attempts and
// the attempts made so far, so that the next run's attempt number is new
// and a stale run's result stays refused), recorded as the task's job_id;
// the old job is finalized (cancelled) if it was not, so that a stale
// worker still holding it completes only that job (River's completer
// changes a job only while it is running). It returns false, changing
// nothing, when the old job no longer exists (River's cleaner deletes
// finalized jobs after a day).
func pgFreshJob(ctx context.Context, tx pgx.Tx, id string) (bool, error) {
	var old int64
	if err := tx.QueryRow(ctx, `SELECT job_id FROM lector_tasks WHERE id = $1`, id).Scan(&old); err != nil {
		return false, err
	}
	var fresh int64
	err := tx.QueryRow(ctx, `INSERT INTO river_job (args, kind, max_attempts, priority, queue, state, scheduled_at, attempt, metadata, tags)
		SELECT args, kind, max_attempts, priority, queue, 'available', now(), attempt, metadata - 'cancel_attempted_at', tags
		FROM river_job WHERE id = $1 RETURNING id`, old).Scan(&fresh)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, `UPDATE river_job SET state = 'cancelled', finalized_at = now()
		WHERE id = $1 AND finalized_at IS NULL`, old); err != nil {
		return false, err
	}
	_, err = tx.Exec(ctx, `UPDATE lector_tasks SET job_id = $1 WHERE id = $2`, fresh, id)
	return err == nil, err
}

// pgRequeueJobs gives each of ids (queued tasks) a fresh job (pgFreshJob);
// a task whose job is lost fails internal at now: nothing would ever run
// it.
func pgRequeueJobs(ctx context.Context, tx pgx.Tx, ids []string, now time.Time) error {
	for _, id := range ids {
		ok, err := pgFreshJob(ctx, tx, id)
		if err != nil {
			return err
		}
		if !ok {
			if _, err := tx.Exec(ctx, `UPDATE lector_tasks SET status = 'failed', error_code = 'internal',
				error_message = 'its queue job was lost', finished_at = $2 WHERE id = $1`, id, ns(now)); err != nil {
				return err
			}
		}
		if err := notify(ctx, tx, id); err != nil {
			return err
		}
	}
	return nil
}

// RequeueStranded gives a fresh River job to every queued task whose job
// is finalized or gone, or still running on a node that is not live (it
// left, or was declared dead: a stop whose snooze never reached the
// database) (SKIP LOCKED: nodes sweeping at once split the work).
func (s *Postgres) RequeueStranded(ctx context.Context, now time.Time) ([]string, error) {
	var ids []string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT t.id FROM lector_tasks t LEFT JOIN river_job j ON j.id = t.job_id
			WHERE t.status = 'queued' AND t.sync = 0 AND (j.id IS NULL OR j.finalized_at IS NOT NULL
				OR (j.state = 'running' AND NOT EXISTS (SELECT 1 FROM lector_nodes n
					WHERE n.id = j.attempted_by[array_length(j.attempted_by, 1)] AND n.gone = 0)))
			ORDER BY t.created_at FOR UPDATE OF t SKIP LOCKED`)
		if err != nil {
			return err
		}
		if ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(ids) == 0 {
			return err
		}
		return pgRequeueJobs(ctx, tx, ids, now)
	})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		s.hub.publish(id)
	}
	return ids, nil
}

func (s *Postgres) Finish(ctx context.Context, id string, attempt int, o Outcome, outputs map[string][]byte) (bool, error) {
	wrote := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if attempt > 0 {
			var n int
			err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM lector_tasks WHERE id = $1 AND attempts = $2 AND status = 'running' FOR UPDATE) r`,
				id, attempt).Scan(&n)
			if err != nil || n == 0 {
				return err
			}
		}
		for name, b := range outputs {
			if _, err := pgPutBlob(ctx, tx, id, name, bytes.NewReader(b)); err != nil {
				return err
			}
		}
		if err := pgFinish(ctx, tx, id, o); err != nil {
			return err
		}
		wrote = true
		return notify(ctx, tx, id)
	})
	if err != nil {
		return false, err
	}
	if wrote {
		s.hub.publish(id)
	}
	return wrote, nil
}

func (s *Postgres) BlobSize(ctx context.Context, id, name string) (int64, bool, error) {
	var n sql.NullInt64
	var count int
	err := s.pool.QueryRow(ctx, `SELECT SUM(length(data)), COUNT(*) FROM lector_blobs WHERE task_id = $1 AND name = $2`, id, name).Scan(&n, &count)
	return n.Int64, count > 0, s.fail(err)
}

func (s *Postgres) CopyBlob(ctx context.Context, w io.Writer, id, name string) (int64, error) {
	var total int64
	for seq := 0; ; seq++ {
		var data []byte
		err := s.pool.QueryRow(ctx, `SELECT data FROM lector_blobs WHERE task_id = $1 AND name = $2 AND seq = $3`, id, name, seq).Scan(&data)
		if errors.Is(err, pgx.ErrNoRows) {
			return total, nil
		}
		if err != nil {
			return total, s.fail(err)
		}
		n, err := w.Write(data)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
}

func (s *Postgres) DeleteBlobs(ctx context.Context, id string, now time.Time) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM lector_blobs WHERE task_id = $1`, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE lector_tasks SET results_deleted = $1 WHERE id = $2`, ns(now), id)
		return err
	})
}

func (s *Postgres) Expired(ctx context.Context, cutoff time.Time, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM lector_tasks WHERE finished_at > 0 AND finished_at < $1 AND results_deleted = 0
		AND status IN ('succeeded', 'failed', 'canceled') ORDER BY finished_at LIMIT $2`, ns(cutoff), limit)
	if err != nil {
		return nil, s.fail(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, s.fail(err)
}

// Recover does nothing on a shared database: other nodes' running tasks are
// not orphans. A dead node's come back through RescueDeadNodes.
func (s *Postgres) Recover(context.Context) (int, error) { return 0, nil }

func (s *Postgres) Heartbeat(ctx context.Context, n Node) (bool, error) {
	// The row is locked first: after a rescue that marks the node gone
	// commits, the read sees gone = 1; then the node is live again.
	wasGone := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var gone int
		err := tx.QueryRow(ctx, `SELECT gone FROM lector_nodes WHERE id = $1 FOR UPDATE`, n.ID).Scan(&gone)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		wasGone = gone == 1
		_, err = tx.Exec(ctx, `INSERT INTO lector_nodes (id, host, addr, started_at, heartbeat_at, gone, info) VALUES ($1,$2,$3,$4,$5,0,$6)
			ON CONFLICT (id) DO UPDATE SET addr = excluded.addr, heartbeat_at = excluded.heartbeat_at, gone = 0, info = excluded.info`,
			n.ID, n.Host, n.Addr, ns(n.StartedAt), ns(n.HeartbeatAt), n.Info)
		return err
	})
	return wasGone, err
}

func (s *Postgres) Leave(ctx context.Context, node string) error {
	_, err := s.pool.Exec(ctx, `UPDATE lector_nodes SET gone = 2 WHERE id = $1`, node)
	return s.fail(err)
}

func (s *Postgres) Nodes(ctx context.Context, now time.Time, timeout time.Duration) ([]Node, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, host, addr, started_at, heartbeat_at, gone, info FROM lector_nodes
		ORDER BY gone, heartbeat_at DESC`)
	if err != nil {
		return nil, s.fail(err)
	}
	defer rows.Close()
	out, err := scanNodes(rows, now, timeout)
	return out, s.fail(err)
}

// RescueDeadNodes: the dead nodes are locked (SKIP LOCKED: two nodes
// rescuing at once split the work, never repeat it) and marked gone; their
// running tasks go back to queued, each with a fresh River job (the old
// one cancelled: a node only paused completes it when it resumes, and
// that must not strand the task), and their other running jobs (the node
// is the last of attempted_by: its River client ID) to available, in one
// transaction. A dead node's synchronous tasks fail unavailable: their
// callers' connections were on that node.
func (s *Postgres) RescueDeadNodes(ctx context.Context, now time.Time, timeout time.Duration) ([]string, int, error) {
	var dead []string
	var requeued int
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM lector_nodes WHERE gone <> 0 AND heartbeat_at < $1`, ns(now.Add(-goneKept))); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id FROM lector_nodes WHERE gone = 0 AND heartbeat_at < $1 FOR UPDATE SKIP LOCKED`, ns(now.Add(-timeout)))
		if err != nil {
			return err
		}
		if dead, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(dead) == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE lector_nodes SET gone = 1 WHERE id = ANY($1)`, dead); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `WITH u AS (UPDATE lector_tasks SET status = 'queued', pages_done = 0
			WHERE status = 'running' AND sync = 0 AND node = ANY($1) RETURNING id) SELECT id FROM u`, dead)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		requeued = len(ids)
		// Fresh jobs: the dead node may be only paused, and its worker,
		// resuming, completes the job it holds.
		if err := pgRequeueJobs(ctx, tx, ids, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE lector_tasks SET status = 'failed', error_code = 'unavailable',
			error_message = 'the node running it stopped', finished_at = $2 WHERE status = 'running' AND sync = 1 AND node = ANY($1)`,
			dead, ns(now)); err != nil {
			return err
		}
		// Its other jobs (retention) run again.
		_, err = tx.Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now()
			WHERE state = 'running' AND attempted_by[array_length(attempted_by, 1)] = ANY($1)`, dead)
		return err
	})
	return dead, requeued, err
}

func (s *Postgres) Watch(id string) (<-chan struct{}, func()) { return s.hub.watch(id) }

func (s *Postgres) WatchAll() (<-chan struct{}, func() ([]string, bool), func()) {
	return s.hub.watchAll()
}
