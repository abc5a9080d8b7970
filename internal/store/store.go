// Package store keeps tasks, their inputs and results, the nodes of a
// cluster and River's queue in one database, behind one interface in
// Lector's own terms (Store) with two implementations:
//
//   - sqlite (the default: DATA_DIR/lector.db, nothing to install or start;
//     one node), modernc.org/sqlite with River's riversqlite driver;
//   - postgres (`--database postgres://…`: several nodes on one server),
//     pgx with River's riverpgxv5 driver, LISTEN/NOTIFY for task events.
//
// Each owns its River client (River's client is generic over the driver's
// transaction type; that type never leaves this package), so a task row,
// its input and its queue job are written in one transaction, and the
// service never sees a transaction. One conformance suite
// (conformance_test.go, after River's riverdrivertest) runs against both.
//
// Blobs (inputs, results, assets) are stored in 1 MiB chunks, one statement
// per chunk, so that neither dialect holds a large input whole in memory and
// no slow HTTP client holds a connection. Errors that mean the database
// cannot be reached are errcode.Unavailable (retryable, HTTP 503).
package store

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/errcode"
)

// ChunkSize is the size of one stored blob chunk on PostgreSQL (one row,
// one round trip).
const ChunkSize = 1 << 20

// SQLiteChunkSize is the size of one stored blob chunk on SQLite. SQLite
// (modernc's C translated to Go) copies a chunk into its own allocator to
// bind or read it, and that allocator keeps up to 4 MiB of freed regions
// committed per size class for reuse (modernc.org/memory, hotBytes): with
// 1 MiB chunks, ~5 MiB stayed resident in the server after a 9-page scan
// (docs/BENCHMARKS.md, "The server's own memory"); with 64 KiB chunks the
// server's anonymous memory after the task was its idle figure. In-process,
// the extra rows cost no round trips. Readers do not depend on the size.
const SQLiteChunkSize = 64 << 10

// goneKept is how long a gone node stays listed.
const goneKept = 24 * time.Hour

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
	PagesText       int // of PagesDone, read from their own text
	ErrorCode       string
	ErrorMessage    string
	Resources       string // JSON of task.Resources, "" until it ran
	Attempts        int
	JobID           int64
	Sync            bool
	CancelRequested bool
	// Node is the node that accepted the task until it runs, then the node
	// running (or that last ran) it.
	Node           string
	CreatedAt      time.Time
	StartedAt      time.Time
	FinishedAt     time.Time
	ResultsDeleted time.Time
}

// Outcome is how a task ended.
type Outcome struct {
	Status       lector.Status
	ErrorCode    string
	ErrorMessage string
	Resources    string
	PagesDone    int
	PagesTotal   int
	PagesText    int
	FinishedAt   time.Time
}

// Cursor marks a place in a newest-first listing.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// Bounds limit the queued tasks, checked in the transaction that queues a
// task and exact however many nodes submit at once: Queued bounds every
// queued task of the database (the cluster's one queue), PerSubject one
// subject's. Zero means no bound.
type Bounds struct {
	Queued     int
	PerSubject int
}

// QueueFullError is Enqueue's answer beyond a bound: Count tasks were
// queued (all, or the subject's when Subject) against Limit.
type QueueFullError struct {
	Count, Limit int
	Subject      bool
}

func (e *QueueFullError) Error() string {
	if e.Subject {
		return fmt.Sprintf("store: %d tasks of the subject queued, the limit", e.Count)
	}
	return fmt.Sprintf("store: %d tasks queued, the limit", e.Count)
}

// CancelResult is what Cancel did.
type CancelResult int

const (
	// Deleted: the task had ended; it is deleted with its input and results.
	Deleted CancelResult = iota + 1
	// CanceledQueued: the task was queued; it is canceled now.
	CanceledQueued
	// CancelRequested: the task is running; it is marked cancel_requested
	// and its job's node is told (River's job cancellation).
	CancelRequested
)

// Node is one `lector serve` process of a cluster (one row of
// lector_nodes).
type Node struct {
	ID          string // unique per process start; also its River client ID
	Host        string // host name
	Addr        string // HTTP address it listens on
	StartedAt   time.Time
	HeartbeatAt time.Time
	// Gone: it stopped (cleanly) or stopped heartbeating and its running
	// tasks went back to the queue.
	Gone bool
	// Left: it stopped cleanly (Leave). lector_nodes.gone is 0 for a live
	// node, 1 for one declared dead (or found dead at start, on SQLite),
	// 2 for one that left.
	Left bool
	// Info is the node's own system view (JSON of server.NodeView), as of
	// its last heartbeat.
	Info []byte
}

// Store is the database of one node (and, for PostgreSQL, of its cluster).
// Every method is safe for concurrent use.
type Store interface {
	// Dialect is "sqlite" or "postgres".
	Dialect() string
	// Describe names the database for logs and errors, never with a
	// password: a file path, or postgres://user@host:port/db.
	Describe() string
	// Shared reports whether several nodes may use the database at once
	// (PostgreSQL), so that a node may not assume running tasks are its own.
	Shared() bool
	// Version is Lector's schema version applied.
	Version(ctx context.Context) (int, error)
	// Close stops the store's background work and closes the database.
	Close() error

	// NewQueue builds the node's River client on this database from cfg
	// (workers, queues, periodic jobs, logger; cfg.ID is set to node when
	// not empty). Call it once, before Enqueue and Cancel.
	NewQueue(cfg *river.Config, node string) (Queue, error)
	// Enqueue writes t (status queued), its input read from input (in
	// chunks) and River's job for args in one transaction, after checking
	// b; beyond a bound it returns a *QueueFullError and writes nothing.
	// It sets t.JobID.
	Enqueue(ctx context.Context, t *Task, input io.Reader, b Bounds, args river.JobArgs, opts *river.InsertOpts) error
	// Insert writes t (a synchronous task: no job), with input if not nil.
	Insert(ctx context.Context, t *Task, input io.Reader) error
	// Cancel cancels task id (any subject) in one transaction: an ended task
	// is deleted; a queued one ends canceled at now; a running one is marked
	// cancel_requested. Its River job is cancelled (River tells the node
	// running it). It returns the task as it is after the change.
	Cancel(ctx context.Context, id string, now time.Time) (*Task, CancelResult, error)

	// Get returns task id of subject: a task of another subject is
	// not_found, as is an absent one.
	Get(ctx context.Context, id, subject string) (*Task, error)
	// Lookup returns task id whatever its subject (for workers).
	Lookup(ctx context.Context, id string) (*Task, error)
	// List returns up to limit of subject's tasks, newest first, after
	// cursor (nil: from the newest), and the next page's cursor (nil at the
	// end).
	List(ctx context.Context, subject string, after *Cursor, limit int) ([]*Task, *Cursor, error)
	// Count returns how many tasks have one of statuses.
	Count(ctx context.Context, statuses ...lector.Status) (int, error)

	// MarkRunning moves a queued (or rescued) task to running on node for
	// attempt, and reports whether it did (false: canceled, ended or gone).
	MarkRunning(ctx context.Context, id, node string, attempt int, now time.Time) (bool, error)
	// Progress records pages done of total, text of them read from their
	// own text.
	Progress(ctx context.Context, id string, done, total, text int) error
	// Requeue returns a running task to the queue (its job's retry will run
	// it), only while node's attempt still holds it: a run given away to
	// another node (its own was declared dead) changes nothing.
	Requeue(ctx context.Context, id, node string, attempt int) error
	// Finish writes outputs (as blobs) and the task's end state in one
	// transaction. With attempt > 0 it does so only if the task's attempt is
	// still attempt (a node declared dead may not overwrite the run that
	// replaced it) and reports whether it wrote.
	Finish(ctx context.Context, id string, attempt int, o Outcome, outputs map[string][]byte) (bool, error)

	// BlobSize returns the size of blob name of task id and whether it exists.
	BlobSize(ctx context.Context, id, name string) (int64, bool, error)
	// CopyBlob writes blob name of task id to w, one chunk at a time.
	CopyBlob(ctx context.Context, w io.Writer, id, name string) (int64, error)
	// DeleteBlobs removes every blob of task id and marks its results
	// deleted at now.
	DeleteBlobs(ctx context.Context, id string, now time.Time) error
	// Expired returns up to limit tasks that ended before cutoff and still
	// have their input or results.
	Expired(ctx context.Context, cutoff time.Time, limit int) ([]string, error)

	// Recover returns to the queue the tasks and jobs left running by an
	// earlier process, for a database only this process uses (SQLite: the
	// data directory's lock guarantees it). A shared database does nothing
	// here: a dead node's work comes back through RescueDeadNodes.
	Recover(ctx context.Context) (int, error)
	// Heartbeat records that n is alive at n.HeartbeatAt (registering it the
	// first time) with its Info, live again if it was marked gone, and
	// reports whether it was (declared dead by another node, which gave
	// its running tasks away; or left earlier under the same ID).
	Heartbeat(ctx context.Context, n Node) (wasGone bool, err error)
	// Leave marks node gone, as having left (a clean stop).
	Leave(ctx context.Context, node string) error
	// Nodes lists the nodes, live first, newest heartbeat first; a node
	// whose heartbeat is older than timeout at now is reported Gone.
	Nodes(ctx context.Context, now time.Time, timeout time.Duration) ([]Node, error)
	// RescueDeadNodes marks gone every node whose heartbeat is older than
	// timeout at now and returns its running tasks and River jobs to the
	// queue, once (one node does it, whichever gets there first). It
	// returns the nodes and how many tasks it requeued.
	RescueDeadNodes(ctx context.Context, now time.Time, timeout time.Duration) ([]string, int, error)
	// RequeueStranded gives a new River job to every queued task whose job
	// is finalized or gone, or running on a node that is not live (nothing
	// would ever run it otherwise) and
	// returns their IDs; a task whose job cannot be copied fails internal
	// at now. A sweep: a queued task always has a live job by design.
	RequeueStranded(ctx context.Context, now time.Time) ([]string, error)

	// Watch returns a channel signalled after each change of task id
	// (status, progress, cancel request), made on any node, and a function
	// that ends the watch. Read the task after subscribing, then after each
	// signal: signals carry no data and coalesce.
	Watch(id string) (<-chan struct{}, func())
	// WatchAll returns a channel signalled after any task changes
	// (submitted, status, progress, cancel request, deleted), made on any
	// node; a function that returns the ids changed since its last call,
	// every subject's, and whether changes may have been missed (a lost
	// connection: read everything again); and a function that ends the
	// watch.
	WatchAll() (<-chan struct{}, func() ([]string, bool), func())
}

// Queue is a node's River client: it works jobs from the database's queue.
type Queue interface {
	Start(ctx context.Context) error
	// Stop stops fetching and waits for running jobs until ctx ends.
	Stop(ctx context.Context) error
	// StopAndCancel cancels running jobs' contexts, then waits for them.
	StopAndCancel(ctx context.Context) error
}

// Open opens the database named by database: "" or a path is SQLite
// (default dataDir/lector.db), postgres:// or postgresql:// a PostgreSQL
// server; anything else is refused (CheckDatabase). It applies Lector's and River's migrations and refuses a schema
// newer than this binary's.
func Open(ctx context.Context, database, dataDir string) (Store, error) {
	if err := CheckDatabase(database); err != nil {
		return nil, err
	}
	if IsPostgres(database) {
		return OpenPostgres(ctx, database)
	}
	path := database
	if path == "" {
		path = filepath.Join(dataDir, "lector.db")
	}
	return OpenSQLite(ctx, path)
}

// keyValueConn matches a libpq key=value connection string ("host=db
// user=lector …"), which pgx would accept and Lector would otherwise take
// for a SQLite file name.
var keyValueConn = regexp.MustCompile(`(?i)(^|\s)(host|hostaddr|port|user|password|passfile|dbname|sslmode|service|connect_timeout|application_name)\s*=`)

// CheckDatabase refuses a database setting that is neither "" (SQLite in
// the data directory), a postgres:// or postgresql:// URL, nor a file
// path: a key=value connection string and a URL of another scheme
// (mysql://…) would be taken for a SQLite file name (created in the
// working directory, its name logged with the password in it). The
// error never holds the setting's password.
func CheckDatabase(database string) error {
	switch {
	case database == "" || IsPostgres(database):
		return nil
	case keyValueConn.MatchString(database):
		return errcode.New(errcode.InvalidArgument, "--database looks like a key=value connection string, which Lector does not take: "+
			"use the postgres:// URL form (postgres://user:password@host:5432/dbname), or a SQLite file path")
	}
	if i := strings.Index(database, "://"); i > 0 && !strings.ContainsAny(database[:i], "/\\ ") {
		return errcode.New(errcode.InvalidArgument, "--database scheme %s:// is not supported: use a postgres:// (or postgresql://) URL, or a SQLite file path",
			database[:i])
	}
	return nil
}

// IsPostgres reports whether database names a PostgreSQL server.
func IsPostgres(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

// Redact returns a database URL without its password (for logs and
// errors), whether or not it parses: the user-info's password and any
// password= parameter are removed.
func Redact(database string) string {
	u, err := url.Parse(database)
	if err != nil || u.Scheme == "" {
		return redactText(database)
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

var (
	userinfoPassword = regexp.MustCompile(`(://[^:/@?#]*):[^@]*@`)
	passwordParam    = regexp.MustCompile(`(?i)password\s*=\s*\S*`)
)

// redactText removes passwords from a database string that is not a URL
// (or not a valid one).
func redactText(s string) string {
	s = userinfoPassword.ReplaceAllString(s, "$1@")
	return passwordParam.ReplaceAllString(s, "password=********")
}

// newerSchema is the error for a database from a newer Lector.
func newerSchema(have, know int) error {
	return fmt.Errorf("store: the database has schema version %d, newer than this lector (%d): run a lector at least as new as the one that last upgraded it", have, know)
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

func notFound(id string) error { return errcode.New(errcode.NotFound, "no task %q", id) }

// canceledByRequest is the end state Cancel gives a queued task.
func canceledByRequest(t *Task, now time.Time) {
	t.Status, t.ErrorCode, t.ErrorMessage, t.FinishedAt = lector.Canceled, string(errcode.Canceled), "canceled by request", now
}

func outcomeOf(t *Task) Outcome {
	return Outcome{Status: t.Status, ErrorCode: t.ErrorCode, ErrorMessage: t.ErrorMessage, Resources: t.Resources,
		PagesDone: t.PagesDone, PagesTotal: t.PagesTotal, PagesText: t.PagesText, FinishedAt: t.FinishedAt}
}

// readChunks reads r in chunks of size bytes and calls put with each
// chunk's sequence number and bytes (valid only during the call); it
// returns the total size.
func readChunks(r io.Reader, size int, put func(seq int, data []byte) error) (int64, error) {
	buf := make([]byte, size)
	var total int64
	for seq := 0; ; seq++ {
		n, err := io.ReadFull(r, buf)
		if n > 0 || seq == 0 { // an empty blob is one empty chunk: stored, not missing
			if err := put(seq, buf[:n]); err != nil {
				return total, err
			}
			total += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
