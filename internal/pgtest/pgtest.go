// Package pgtest runs a private PostgreSQL server for tests: Debian's
// postgresql package's binaries (installed by `make setup`), a fresh
// cluster in a temporary directory, reached only through a Unix socket in
// that directory, run as the unprivileged "postgres" user when the test
// runs as root (initdb refuses root). Tests never depend on a server
// someone else runs; a machine without the binaries fails the test with
// the command that installs them.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is one private PostgreSQL cluster.
type Server struct {
	dir  string // the cluster's directory: data/, the socket, the log
	bin  string
	cred *syscall.Credential // nil when not root
	dbs  atomic.Int64
}

// User is the cluster's superuser (trust authentication on the socket).
const User = "lector"

// port only names the socket file (.s.PGSQL.<port>) in the private
// directory: the server listens on no TCP port.
const port = 5432

// Binaries returns the directory of PostgreSQL's server binaries (the
// newest installed version), or an error saying how to install them.
func Binaries() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("pgtest: PostgreSQL's server binaries are not installed (/usr/lib/postgresql/*/bin/initdb): run `make setup`, which installs Debian's postgresql package")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// New initialises and starts a cluster; t's cleanup stops it and removes
// its directory.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
)

// Shared returns one cluster for the whole test binary (each test makes
// its own database with NewDatabase); StopShared, from TestMain, stops it.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = start() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// StopShared stops the shared cluster, if one was started.
func StopShared() {
	if shared != nil {
		shared.Close()
	}
}

func start() (*Server, error) {
	bin, err := Binaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lector-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: running as root needs the postgres user (Debian's postgresql package makes it; run `make setup`): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if out, err := s.run("initdb", "-D", s.data(), "-U", User, "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	if err := s.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// run runs one of the server's binaries as the cluster's owner.
func (s *Server) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd.CombinedOutput()
}

// Start starts the (stopped) server and waits until it accepts
// connections (pg_ctl -w).
func (s *Server) Start() error {
	opts := fmt.Sprintf("-k %s -p %d -c listen_addresses='' -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", s.dir, port)
	if out, err := s.run("pg_ctl", "-D", s.data(), "-l", filepath.Join(s.dir, "log"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		return fmt.Errorf("pgtest: starting postgres: %v\n%s\n%s", err, out, log)
	}
	return nil
}

// Stop stops the server (fast shutdown: connections are closed) and waits
// until it has.
func (s *Server) Stop() error {
	if out, err := s.run("pg_ctl", "-D", s.data(), "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("pgtest: stopping postgres: %v\n%s", err, out)
	}
	return nil
}

// Close stops the server and removes its directory.
func (s *Server) Close() {
	_ = s.Stop()
	os.RemoveAll(s.dir)
}

// URL is the connection URL of database db.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://%s@/%s?host=%s&port=%d", User, db, s.dir, port)
}

// NewDatabase creates an empty database and returns its URL.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d", s.dbs.Add(1))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return s.URL(name)
}

// PasswordUser creates role name with password and makes the server ask
// it for that password (scram-sha-256) on the socket, ahead of the trust
// every other user keeps: a line first in pg_hba.conf, then a reload.
func (s *Server) PasswordUser(t testing.TB, name, password string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", pgx.Identifier{name}.Sanitize(), password)); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	hba := filepath.Join(s.data(), "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if err := os.WriteFile(hba, append([]byte("local all "+name+" scram-sha-256\n"), old...), 0o600); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if s.cred != nil {
		if err := os.Chown(hba, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
	var before time.Time
	if err := conn.QueryRow(ctx, `SELECT pg_conf_load_time()`).Scan(&before); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_reload_conf()`); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	// The reload is a signal: a new session inherits the postmaster's load
	// time, later than before once it has read the file again.
	for {
		c, err := pgx.Connect(ctx, s.URL("postgres"))
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		var at time.Time
		err = c.QueryRow(ctx, `SELECT pg_conf_load_time()`).Scan(&at)
		c.Close(ctx)
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		if at.After(before) {
			return
		}
		runtime.Gosched()
	}
}
