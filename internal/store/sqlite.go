package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // the SQLite driver River's SQLite driver is tested with

	"github.com/lector-ocr/lector"
)

// SQLite is the embedded store: one file, one node. SQLite allows one
// writer; River's SQLite driver is run with one open connection, and so is
// everything here, which makes every transaction serial (queue bounds are
// exact without a lock). Transactions are kept short.
type SQLite struct {
	db       *sql.DB
	path     string
	hub      *hub
	river    *river.Client[*sql.Tx]
	reserve  string // the reserve file (reserve.go)
	readOnly bool   // opened by OpenSQLiteReadOnly
}

var _ Store = (*SQLite)(nil)

// sqliteMigrations are applied in order, each once, each in its own
// transaction. Append only: a released migration is never edited; a
// migration added here gets its PostgreSQL twin in postgresMigrations.
var sqliteMigrations = []string{
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
	keep_alive_ns    INTEGER,
	filename         TEXT NOT NULL DEFAULT '',
	media_type       TEXT NOT NULL DEFAULT '',
	input_bytes      INTEGER NOT NULL DEFAULT 0,
	pages_done       INTEGER NOT NULL DEFAULT 0,
	pages_total      INTEGER NOT NULL DEFAULT 0,
	error_code       TEXT NOT NULL DEFAULT '',
	error_message    TEXT NOT NULL DEFAULT '',
	resources        TEXT NOT NULL DEFAULT '',
	attempts         INTEGER NOT NULL DEFAULT 0,
	job_id           INTEGER NOT NULL DEFAULT 0,
	sync             INTEGER NOT NULL DEFAULT 0,
	cancel_requested INTEGER NOT NULL DEFAULT 0,
	created_at       INTEGER NOT NULL,
	started_at       INTEGER NOT NULL DEFAULT 0,
	finished_at      INTEGER NOT NULL DEFAULT 0,
	results_deleted  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX lector_tasks_by_subject ON lector_tasks (subject, created_at DESC, id DESC);
CREATE INDEX lector_tasks_by_status ON lector_tasks (status);
CREATE TABLE lector_blobs (
	task_id TEXT NOT NULL REFERENCES lector_tasks (id) ON DELETE CASCADE,
	name    TEXT NOT NULL,
	seq     INTEGER NOT NULL,
	data    BLOB NOT NULL,
	PRIMARY KEY (task_id, name, seq)
);`,
	2: `
ALTER TABLE lector_tasks ADD COLUMN node TEXT NOT NULL DEFAULT '';
CREATE TABLE lector_nodes (
	id           TEXT PRIMARY KEY,
	host         TEXT NOT NULL DEFAULT '',
	addr         TEXT NOT NULL DEFAULT '',
	started_at   INTEGER NOT NULL,
	heartbeat_at INTEGER NOT NULL,
	gone         INTEGER NOT NULL DEFAULT 0,
	info         BLOB
);`,
	3: learnedMigration,
	4: `ALTER TABLE lector_tasks ADD COLUMN pages_text INTEGER NOT NULL DEFAULT 0;`,
}

// OpenSQLite opens (creating if needed) the database at path and applies
// Lector's and River's migrations.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	// auto_vacuum (incremental) takes effect only in a new database: there
	// a deleted task's pages can be given back to the disk (reserve.go).
	dsn := "file:" + path + "?_pragma=auto_vacuum(2)&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	s := &SQLite{db: db, path: path, hub: newHub(), reserve: reservePath(path)}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, Fault(err)
	}
	s.replenish()
	m, err := rivermigrate.New(riversqlite.New(db), nil)
	if err != nil {
		db.Close()
		return nil, err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: river migrations: %w", err)
	}
	return s, nil
}

func (s *SQLite) Dialect() string  { return "sqlite" }
func (s *SQLite) Describe() string { return s.path }
func (s *SQLite) Shared() bool     { return false }
func (s *SQLite) Close() error     { return s.db.Close() }

// Exec runs one statement outside any transaction (tests, tools).
func (s *SQLite) Exec(ctx context.Context, q string, args ...any) error {
	_, err := s.db.ExecContext(ctx, q, args...)
	return err
}

func (s *SQLite) Version(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM lector_migrations`).Scan(&v)
	return v, err
}

func (s *SQLite) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS lector_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	have, err := s.Version(ctx)
	if err != nil {
		return err
	}
	if have >= len(sqliteMigrations) {
		return newerSchema(have, len(sqliteMigrations)-1)
	}
	for v := have + 1; v < len(sqliteMigrations); v++ {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, sqliteMigrations[v]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO lector_migrations (version, applied_at) VALUES (?, ?)`, v, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migration %d: %w", v, err)
		}
	}
	return nil
}

// tx runs fn in a transaction, committed when fn returns nil. fn must use
// only tx: the database has one connection.
//
// A database or disk that cannot be written is errcode unavailable
// (Fault).
func (s *SQLite) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Fault(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return Fault(err)
	}
	return Fault(tx.Commit())
}

func (s *SQLite) NewQueue(cfg *river.Config, node string) (Queue, error) {
	if node != "" {
		cfg.ID = node
	}
	rc, err := river.NewClient(riversqlite.New(s.db), cfg)
	if err != nil {
		return nil, err
	}
	s.river = rc
	return rc, nil
}

func sqliteInsert(ctx context.Context, tx *sql.Tx, t *Task) error {
	var ka any
	if t.KeepAlive != nil {
		ka = int64(*t.KeepAlive)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO lector_tasks (id, subject, status, pipeline, model, formats, priority, device_request,
		keep_alive_ns, filename, media_type, input_bytes, pages_done, pages_total, pages_text, error_code, error_message, resources, attempts,
		job_id, sync, node, created_at, started_at, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		t.ID, t.Subject, t.Status, t.Pipeline, t.Model, strings.Join(t.Formats, ","), t.Priority, t.DeviceRequest,
		ka, t.Filename, t.MediaType, t.InputBytes, t.PagesDone, t.PagesTotal, t.PagesText, t.ErrorCode, t.ErrorMessage, t.Resources, t.Attempts,
		t.JobID, b2i(t.Sync), t.Node, ns(t.CreatedAt), ns(t.StartedAt), ns(t.FinishedAt))
	return err
}

func sqlitePutBlob(ctx context.Context, tx *sql.Tx, id, name string, r io.Reader) (int64, error) {
	return readChunks(r, SQLiteChunkSize, func(seq int, data []byte) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO lector_blobs (task_id, name, seq, data) VALUES (?, ?, ?, ?)`, id, name, seq, data)
		return err
	})
}

func (s *SQLite) Enqueue(ctx context.Context, t *Task, input io.Reader, b Bounds, args river.JobArgs, opts *river.InsertOpts) error {
	if s.river == nil {
		return errors.New("store: Enqueue before NewQueue")
	}
	t.Status = lector.Queued
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// Counted inside the transaction: the one connection serializes
		// submissions, so the bounds are exact.
		var all, mine int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(subject = ?), 0) FROM lector_tasks WHERE status = 'queued'`,
			t.Subject).Scan(&all, &mine); err != nil {
			return err
		}
		if err := checkBounds(b, all, mine); err != nil {
			return err
		}
		if err := sqliteInsert(ctx, tx, t); err != nil {
			return err
		}
		if input != nil {
			if _, err := sqlitePutBlob(ctx, tx, t.ID, "input", input); err != nil {
				return err
			}
		}
		res, err := s.river.InsertTx(ctx, tx, args, opts)
		if err != nil {
			return err
		}
		t.JobID = res.Job.ID
		_, err = tx.ExecContext(ctx, `UPDATE lector_tasks SET job_id = ? WHERE id = ?`, t.JobID, t.ID)
		return err
	})
	if err == nil {
		s.hub.publish(t.ID)
	}
	return err
}

// checkBounds is the queue-bound check of Enqueue, given the queued tasks
// before this one: all of them and the subject's.
func checkBounds(b Bounds, all, mine int) error {
	if b.Queued > 0 && all >= b.Queued {
		return &QueueFullError{Count: all, Limit: b.Queued}
	}
	if b.PerSubject > 0 && mine >= b.PerSubject {
		return &QueueFullError{Count: mine, Limit: b.PerSubject, Subject: true}
	}
	return nil
}

func (s *SQLite) Insert(ctx context.Context, t *Task, input io.Reader) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := sqliteInsert(ctx, tx, t); err != nil {
			return err
		}
		if input != nil {
			_, err := sqlitePutBlob(ctx, tx, t.ID, "input", input)
			return err
		}
		return nil
	})
	if err == nil {
		s.hub.publish(t.ID)
	}
	return err
}

// Deleting a task is how space is freed, so Cancel works on a full disk too
// (freeing, reserve.go).
func (s *SQLite) Cancel(ctx context.Context, id string, now time.Time) (*Task, CancelResult, error) {
	var row *Task
	var what CancelResult
	err := s.freeing(ctx, func(tx *sql.Tx) error {
		var err error
		if row, err = scanTask(tx.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM lector_tasks WHERE id = ?`, id)); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return notFound(id)
			}
			return err
		}
		switch {
		case row.Status.Final():
			what = Deleted
			_, err = tx.ExecContext(ctx, `DELETE FROM lector_tasks WHERE id = ?`, id)
		case row.Status == lector.Queued:
			what = CanceledQueued
			canceledByRequest(row, now)
			err = sqliteFinish(ctx, tx, id, outcomeOf(row))
		default:
			what = CancelRequested
			row.CancelRequested = true
			_, err = tx.ExecContext(ctx, `UPDATE lector_tasks SET cancel_requested = 1 WHERE id = ?`, id)
		}
		if err != nil {
			return err
		}
		if row.JobID != 0 && s.river != nil {
			if _, err := s.river.JobCancelTx(ctx, tx, row.JobID); err != nil && !errors.Is(err, river.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	s.hub.publish(id)
	return row, what, nil
}

const taskColumns = `id, subject, status, pipeline, model, formats, priority, device_request, keep_alive_ns, filename, media_type,
	input_bytes, pages_done, pages_total, pages_text, error_code, error_message, resources, attempts, job_id, sync, cancel_requested, node,
	created_at, started_at, finished_at, results_deleted`

type scanner interface{ Scan(dest ...any) error }

// scanTask reads taskColumns (both dialects: booleans are 0/1 integers,
// instants Unix nanoseconds).
func scanTask(r scanner) (*Task, error) {
	var t Task
	var formats string
	var ka sql.NullInt64
	var sync, cancel int
	var created, started, finished, deleted int64
	err := r.Scan(&t.ID, &t.Subject, &t.Status, &t.Pipeline, &t.Model, &formats, &t.Priority, &t.DeviceRequest, &ka,
		&t.Filename, &t.MediaType, &t.InputBytes, &t.PagesDone, &t.PagesTotal, &t.PagesText, &t.ErrorCode, &t.ErrorMessage, &t.Resources,
		&t.Attempts, &t.JobID, &sync, &cancel, &t.Node, &created, &started, &finished, &deleted)
	if err != nil {
		return nil, err
	}
	if formats != "" {
		t.Formats = strings.Split(formats, ",")
	}
	if ka.Valid {
		d := time.Duration(ka.Int64)
		t.KeepAlive = &d
	}
	t.Sync, t.CancelRequested = sync == 1, cancel == 1
	t.CreatedAt, t.StartedAt, t.FinishedAt, t.ResultsDeleted = fromNS(created), fromNS(started), fromNS(finished), fromNS(deleted)
	return &t, nil
}

func (s *SQLite) Get(ctx context.Context, id, subject string) (*Task, error) {
	t, err := scanTask(s.db.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM lector_tasks WHERE id = ? AND subject = ?`, id, subject))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(id)
	}
	return t, err
}

func (s *SQLite) Lookup(ctx context.Context, id string) (*Task, error) {
	t, err := scanTask(s.db.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM lector_tasks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(id)
	}
	return t, err
}

func (s *SQLite) List(ctx context.Context, subject string, after *Cursor, limit int) ([]*Task, *Cursor, error) {
	q := `SELECT ` + taskColumns + ` FROM lector_tasks WHERE subject = ?`
	args := []any{subject}
	if after != nil {
		q += ` AND (created_at < ? OR (created_at = ? AND id < ?))`
		args = append(args, ns(after.CreatedAt), ns(after.CreatedAt), after.ID)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out []*Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	out, next := page(out, limit)
	return out, next, nil
}

// page cuts a listing fetched with limit+1 rows to limit and returns the
// next page's cursor.
func page(out []*Task, limit int) ([]*Task, *Cursor) {
	if len(out) <= limit {
		return out, nil
	}
	out = out[:limit]
	last := out[len(out)-1]
	return out, &Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
}

func (s *SQLite) Count(ctx context.Context, statuses ...lector.Status) (int, error) {
	q := `SELECT COUNT(*) FROM lector_tasks WHERE status IN (?` + strings.Repeat(",?", len(statuses)-1) + `)`
	args := make([]any, len(statuses))
	for i, st := range statuses {
		args[i] = st
	}
	var n int
	err := s.db.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

func (s *SQLite) MarkRunning(ctx context.Context, id, node string, attempt int, now time.Time) (bool, error) {
	r, err := s.db.ExecContext(ctx, `UPDATE lector_tasks SET status = 'running', attempts = ?, started_at = ?, pages_done = 0, node = ?
		WHERE id = ? AND status IN ('queued', 'running') AND cancel_requested = 0`, attempt, ns(now), node, id)
	if err != nil {
		return false, Fault(err)
	}
	n, err := r.RowsAffected()
	if n == 1 {
		s.hub.publish(id)
	}
	return n == 1, err
}

func (s *SQLite) Progress(ctx context.Context, id string, done, total, text int) error {
	_, err := s.db.ExecContext(ctx, `UPDATE lector_tasks SET pages_done = ?, pages_total = ?, pages_text = ? WHERE id = ?`, done, total, text, id)
	if err == nil {
		s.hub.publish(id)
	}
	return err
}

func (s *SQLite) Requeue(ctx context.Context, id, node string, attempt int) error {
	_, err := s.db.ExecContext(ctx, `UPDATE lector_tasks SET status = 'queued', pages_done = 0
		WHERE id = ? AND status = 'running' AND node = ? AND attempts = ?`, id, node, attempt)
	if err == nil {
		s.hub.publish(id)
	}
	return err
}

func sqliteFinish(ctx context.Context, tx *sql.Tx, id string, o Outcome) error {
	_, err := tx.ExecContext(ctx, `UPDATE lector_tasks SET status = ?, error_code = ?, error_message = ?, resources = ?,
		pages_done = ?, pages_total = ?, pages_text = ?, finished_at = ? WHERE id = ?`,
		o.Status, o.ErrorCode, o.ErrorMessage, o.Resources, o.PagesDone, o.PagesTotal, o.PagesText, ns(o.FinishedAt), id)
	return err
}

func (s *SQLite) Finish(ctx context.Context, id string, attempt int, o Outcome, outputs map[string][]byte) (bool, error) {
	wrote := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if attempt > 0 {
			var n int
			err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM lector_tasks WHERE id = ? AND attempts = ? AND status = 'running'`, id, attempt).Scan(&n)
			if err != nil || n == 0 {
				return err
			}
		}
		for name, b := range outputs {
			if _, err := sqlitePutBlob(ctx, tx, id, name, bytes.NewReader(b)); err != nil {
				return err
			}
		}
		wrote = true
		return sqliteFinish(ctx, tx, id, o)
	})
	if err != nil {
		return false, err
	}
	if wrote {
		s.hub.publish(id)
	}
	return wrote, nil
}

func (s *SQLite) BlobSize(ctx context.Context, id, name string) (int64, bool, error) {
	var n sql.NullInt64
	var count int
	err := s.db.QueryRowContext(ctx, `SELECT SUM(length(data)), COUNT(*) FROM lector_blobs WHERE task_id = ? AND name = ?`, id, name).Scan(&n, &count)
	return n.Int64, count > 0, err
}

func (s *SQLite) CopyBlob(ctx context.Context, w io.Writer, id, name string) (int64, error) {
	var total int64
	for seq := 0; ; seq++ {
		var data []byte
		err := s.db.QueryRowContext(ctx, `SELECT data FROM lector_blobs WHERE task_id = ? AND name = ? AND seq = ?`, id, name, seq).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		n, err := w.Write(data)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
}

func (s *SQLite) DeleteBlobs(ctx context.Context, id string, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM lector_blobs WHERE task_id = ?`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE lector_tasks SET results_deleted = ? WHERE id = ?`, ns(now), id)
		return err
	})
}

func (s *SQLite) Expired(ctx context.Context, cutoff time.Time, limit int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM lector_tasks WHERE finished_at > 0 AND finished_at < ? AND results_deleted = 0
		AND status IN ('succeeded', 'failed', 'canceled') ORDER BY finished_at LIMIT ?`, ns(cutoff), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Recover returns to the queue every task and River job left running by a
// process that died (kill -9, power loss). Call it before any worker
// starts: the data directory's lock makes this process the database's only
// worker. River's own rescuer would wait an hour.
func (s *SQLite) Recover(ctx context.Context) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE lector_tasks SET status = 'queued', pages_done = 0 WHERE status = 'running' AND sync = 0`)
		if err != nil {
			return err
		}
		if n, err = r.RowsAffected(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE lector_nodes SET gone = 1 WHERE gone = 0`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM lector_nodes WHERE heartbeat_at < ?`, ns(time.Now().Add(-goneKept))); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running'`)
		return err
	})
	return int(n), err
}

func (s *SQLite) Heartbeat(ctx context.Context, n Node) (bool, error) {
	// Only Leave and Recover mark a node gone on SQLite (no other process
	// rescues its tasks): it never learns it was declared gone.
	_, err := s.db.ExecContext(ctx, `INSERT INTO lector_nodes (id, host, addr, started_at, heartbeat_at, gone, info) VALUES (?,?,?,?,?,0,?)
		ON CONFLICT (id) DO UPDATE SET addr = excluded.addr, heartbeat_at = excluded.heartbeat_at, gone = 0, info = excluded.info`,
		n.ID, n.Host, n.Addr, ns(n.StartedAt), ns(n.HeartbeatAt), n.Info)
	return false, err
}

// RequeueStranded does nothing on SQLite: no other node rescues this one's
// tasks, so no stale worker completes a requeued task's job; Recover
// returns its tasks and their jobs together at start.
func (s *SQLite) RequeueStranded(context.Context, time.Time) ([]string, error) { return nil, nil }

func (s *SQLite) Leave(ctx context.Context, node string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE lector_nodes SET gone = 2 WHERE id = ?`, node)
	return err
}

func (s *SQLite) Nodes(ctx context.Context, now time.Time, timeout time.Duration) ([]Node, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, host, addr, started_at, heartbeat_at, gone, info FROM lector_nodes
		ORDER BY gone, heartbeat_at DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanNodes(rows, now, timeout)
}

type rowsScanner interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

func scanNodes(rows rowsScanner, now time.Time, timeout time.Duration) ([]Node, error) {
	var live, gone []Node
	for rows.Next() {
		var n Node
		var started, beat int64
		var g int
		if err := rows.Scan(&n.ID, &n.Host, &n.Addr, &started, &beat, &g, &n.Info); err != nil {
			return nil, err
		}
		n.StartedAt, n.HeartbeatAt = fromNS(started), fromNS(beat)
		n.Gone = g != 0 || now.Sub(n.HeartbeatAt) > timeout
		n.Left = g == 2
		if n.Gone {
			gone = append(gone, n)
		} else {
			live = append(live, n)
		}
	}
	return append(live, gone...), rows.Err()
}

// RescueDeadNodes marks dead nodes gone. An SQLite database has one node,
// this one, whose earlier processes' work Recover returned at start: there
// is nothing to rescue.
func (s *SQLite) RescueDeadNodes(ctx context.Context, now time.Time, timeout time.Duration) ([]string, int, error) {
	_, err := s.db.ExecContext(ctx, `UPDATE lector_nodes SET gone = 1 WHERE gone = 0 AND heartbeat_at < ?`, ns(now.Add(-timeout)))
	return nil, 0, err
}

func (s *SQLite) Watch(id string) (<-chan struct{}, func()) { return s.hub.watch(id) }

func (s *SQLite) WatchAll() (<-chan struct{}, func() ([]string, bool), func()) {
	return s.hub.watchAll()
}
