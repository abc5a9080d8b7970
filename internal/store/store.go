// Package store keeps tasks, their inputs and their results in SQLite (in
// the data directory: nothing to install or start), with versioned
// migrations, and hosts River's tables in the same database so that a task
// row, its input and its queue job are written in one transaction.
//
// SQLite allows one writer; River's SQLite driver is run with one open
// connection, and so is everything here. Transactions are therefore kept
// short, and blobs are written and read in chunks, one statement per chunk,
// so that no slow HTTP client holds the connection.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // the SQLite driver River's SQLite driver is tested with

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/errcode"
)

// ChunkSize is the size of one stored blob chunk.
const ChunkSize = 1 << 20

// Task is one row of lector_tasks.
type Task struct {
	ID              string
	Subject         string
	Status          lector.Status
	Pipeline        lector.Pipeline
	Model           string
	Formats         []string
	Priority        lector.Priority
	DeviceRequest   string
	KeepAlive       *time.Duration
	Filename        string
	MediaType       string
	InputBytes      int64
	PagesDone       int
	PagesTotal      int
	ErrorCode       string
	ErrorMessage    string
	Resources       string // JSON of task.Resources, "" until it ran
	Attempts        int
	JobID           int64
	Sync            bool
	CancelRequested bool
	CreatedAt       time.Time
	StartedAt       time.Time
	FinishedAt      time.Time
	ResultsDeleted  time.Time
}

// Store is the database.
type Store struct {
	db *sql.DB
}

// migrations are applied in order, each once, each in its own transaction.
// Append only: a released migration is never edited.
var migrations = []string{
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
}

// Open opens (creating if needed) the database at path and applies Lector's
// and River's migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
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

// DB is the database handle (for River's driver).
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Version is the schema version applied.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM lector_migrations`).Scan(&v)
	return v, err
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS lector_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	have, err := s.Version(ctx)
	if err != nil {
		return err
	}
	if have >= len(migrations) {
		return fmt.Errorf("store: the database has schema version %d, newer than this lector (%d)", have, len(migrations)-1)
	}
	for v := have + 1; v < len(migrations); v++ {
		err := s.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
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

// Tx runs fn in a transaction, committed when fn returns nil. fn must use
// only tx: the database has one connection.
func (s *Store) Tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// InsertTx writes a new task row.
func InsertTx(ctx context.Context, tx *sql.Tx, t *Task) error {
	var ka any
	if t.KeepAlive != nil {
		ka = int64(*t.KeepAlive)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO lector_tasks (id, subject, status, pipeline, model, formats, priority, device_request,
		keep_alive_ns, filename, media_type, input_bytes, pages_done, pages_total, error_code, error_message, resources, attempts,
		job_id, sync, created_at, started_at, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		t.ID, t.Subject, t.Status, t.Pipeline, t.Model, strings.Join(t.Formats, ","), t.Priority, t.DeviceRequest,
		ka, t.Filename, t.MediaType, t.InputBytes, t.PagesDone, t.PagesTotal, t.ErrorCode, t.ErrorMessage, t.Resources, t.Attempts,
		t.JobID, b2i(t.Sync), ns(t.CreatedAt), ns(t.StartedAt), ns(t.FinishedAt))
	return err
}

const taskColumns = `id, subject, status, pipeline, model, formats, priority, device_request, keep_alive_ns, filename, media_type,
	input_bytes, pages_done, pages_total, error_code, error_message, resources, attempts, job_id, sync, cancel_requested,
	created_at, started_at, finished_at, results_deleted`

type scanner interface{ Scan(dest ...any) error }

func scanTask(r scanner) (*Task, error) {
	var t Task
	var formats string
	var ka sql.NullInt64
	var sync, cancel int
	var created, started, finished, deleted int64
	err := r.Scan(&t.ID, &t.Subject, &t.Status, &t.Pipeline, &t.Model, &formats, &t.Priority, &t.DeviceRequest, &ka,
		&t.Filename, &t.MediaType, &t.InputBytes, &t.PagesDone, &t.PagesTotal, &t.ErrorCode, &t.ErrorMessage, &t.Resources,
		&t.Attempts, &t.JobID, &sync, &cancel, &created, &started, &finished, &deleted)
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

// Get returns the task id. A task of another subject is not_found, as is an
// absent one: a caller cannot tell the two apart.
func (s *Store) Get(ctx context.Context, id, subject string) (*Task, error) {
	t, err := scanTask(s.db.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM lector_tasks WHERE id = ? AND subject = ?`, id, subject))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errcode.New(errcode.NotFound, "no task %q", id)
	}
	return t, err
}

// GetTx is Get inside a transaction, for any subject.
func GetTx(ctx context.Context, tx *sql.Tx, id string) (*Task, error) {
	t, err := scanTask(tx.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM lector_tasks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errcode.New(errcode.NotFound, "no task %q", id)
	}
	return t, err
}

// Cursor marks a place in a newest-first listing.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// List returns up to limit of subject's tasks, newest first, after cursor
// (nil: from the newest), and the cursor of the next page (nil at the end).
func (s *Store) List(ctx context.Context, subject string, after *Cursor, limit int) ([]*Task, *Cursor, error) {
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
	var next *Cursor
	if len(out) > limit {
		out = out[:limit]
		last := out[len(out)-1]
		next = &Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return out, next, nil
}

// Count returns how many tasks have one of statuses.
func (s *Store) Count(ctx context.Context, statuses ...lector.Status) (int, error) {
	q := `SELECT COUNT(*) FROM lector_tasks WHERE status IN (?` + strings.Repeat(",?", len(statuses)-1) + `)`
	args := make([]any, len(statuses))
	for i, st := range statuses {
		args[i] = st
	}
	var n int
	err := s.db.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

// Exec runs one statement outside any transaction.
func (s *Store) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, q, args...)
}

// MarkRunning moves a queued task to running for attempt, and reports
// whether it did (false: the task was canceled or is gone).
func (s *Store) MarkRunning(ctx context.Context, id string, attempt int, now time.Time) (bool, error) {
	r, err := s.db.ExecContext(ctx, `UPDATE lector_tasks SET status = 'running', attempts = ?, started_at = ?, pages_done = 0
		WHERE id = ? AND status IN ('queued', 'running') AND cancel_requested = 0`, attempt, ns(now), id)
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// Progress records pages done of total.
func (s *Store) Progress(ctx context.Context, id string, done, total int) error {
	_, err := s.db.ExecContext(ctx, `UPDATE lector_tasks SET pages_done = ?, pages_total = ? WHERE id = ?`, done, total, id)
	return err
}

// Requeue returns a running task to the queue (a retry will run it again).
func (s *Store) Requeue(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE lector_tasks SET status = 'queued', pages_done = 0 WHERE id = ? AND status = 'running'`, id)
	return err
}

// Final is how a task ended.
type Outcome struct {
	Status       lector.Status
	ErrorCode    string
	ErrorMessage string
	Resources    string
	PagesDone    int
	PagesTotal   int
	FinishedAt   time.Time
}

// FinishTx writes a task's end state.
func FinishTx(ctx context.Context, tx *sql.Tx, id string, o Outcome) error {
	_, err := tx.ExecContext(ctx, `UPDATE lector_tasks SET status = ?, error_code = ?, error_message = ?, resources = ?,
		pages_done = ?, pages_total = ?, finished_at = ? WHERE id = ?`,
		o.Status, o.ErrorCode, o.ErrorMessage, o.Resources, o.PagesDone, o.PagesTotal, ns(o.FinishedAt), id)
	return err
}

// RequestCancelTx marks a task for cancellation.
func RequestCancelTx(ctx context.Context, tx *sql.Tx, id string) error {
	_, err := tx.ExecContext(ctx, `UPDATE lector_tasks SET cancel_requested = 1 WHERE id = ?`, id)
	return err
}

// DeleteTx removes a task with its blobs.
func DeleteTx(ctx context.Context, tx *sql.Tx, id string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM lector_tasks WHERE id = ?`, id)
	return err
}

// PutBlobTx stores r as blob name of task id, in chunks, and returns its size.
func PutBlobTx(ctx context.Context, tx *sql.Tx, id, name string, r io.Reader) (int64, error) {
	buf := make([]byte, ChunkSize)
	var total int64
	for seq := 0; ; seq++ {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO lector_blobs (task_id, name, seq, data) VALUES (?, ?, ?, ?)`, id, name, seq, buf[:n]); err != nil {
				return total, err
			}
			total += int64(n)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// BlobSize returns the size of blob name of task id, and whether it exists.
func (s *Store) BlobSize(ctx context.Context, id, name string) (int64, bool, error) {
	var n sql.NullInt64
	var count int
	err := s.db.QueryRowContext(ctx, `SELECT SUM(length(data)), COUNT(*) FROM lector_blobs WHERE task_id = ? AND name = ?`, id, name).Scan(&n, &count)
	return n.Int64, count > 0, err
}

// CopyBlob writes blob name of task id to w, one chunk per statement.
func (s *Store) CopyBlob(ctx context.Context, w io.Writer, id, name string) (int64, error) {
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

// DeleteBlobs removes every blob of task id and marks its results deleted.
func (s *Store) DeleteBlobs(ctx context.Context, id string, now time.Time) error {
	return s.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM lector_blobs WHERE task_id = ?`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE lector_tasks SET results_deleted = ? WHERE id = ?`, ns(now), id)
		return err
	})
}

// Lookup returns task id whatever its subject (for workers).
func (s *Store) Lookup(ctx context.Context, id string) (*Task, error) {
	t, err := scanTask(s.db.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM lector_tasks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errcode.New(errcode.NotFound, "no task %q", id)
	}
	return t, err
}

// RecoverRunning returns to the queue every task and River job left running
// by a process that died (kill -9, power loss). Call it before any worker
// starts, and only where this process is the database's only worker: the
// data directory's lock guarantees that for SQLite. It returns how many
// tasks it requeued.
func (s *Store) RecoverRunning(ctx context.Context) (int, error) {
	var n int64
	err := s.Tx(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE lector_tasks SET status = 'queued', pages_done = 0 WHERE status = 'running' AND sync = 0`)
		if err != nil {
			return err
		}
		if n, err = r.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running'`)
		return err
	})
	return int(n), err
}

// CountQueuedTx counts the queued tasks, all and subject's.
func CountQueuedTx(ctx context.Context, tx *sql.Tx, subject string) (all, mine int, err error) {
	err = tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(subject = ?), 0) FROM lector_tasks WHERE status = 'queued'`, subject).Scan(&all, &mine)
	return all, mine, err
}

// Expired returns up to limit tasks that ended before cutoff and still have
// their input or results.
func (s *Store) Expired(ctx context.Context, cutoff time.Time, limit int) ([]string, error) {
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
