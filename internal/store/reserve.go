package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lector-ocr/lector/internal/errcode"
)

// ReserveBytes is the size of the reserve file kept beside the database:
// space given up when the disk is full so that deleting tasks — the way to
// free space through the API — can still write its journal.
const ReserveBytes = 8 << 20

func reservePath(db string) string { return filepath.Join(filepath.Dir(db), "lector.reserve") }

// replenish makes the reserve file if it is missing and there is room;
// otherwise it leaves things as they are (the next call tries again).
func (s *SQLite) replenish() {
	if s.reserve == "" || s.readOnly {
		return
	}
	if fi, err := os.Stat(s.reserve); err == nil && fi.Size() >= ReserveBytes {
		return
	}
	f, err := os.OpenFile(s.reserve, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	_, err = f.Write(make([]byte, ReserveBytes))
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err != nil {
		os.Remove(s.reserve)
	}
}

// freeing runs fn, a transaction that frees space (deleting tasks), even
// on a full disk: when it fails for want of space, the reserve file is
// given up and fn runs again. The freed pages are then given back to the
// disk where the database allows it (a database made with incremental
// auto-vacuum), and the reserve is made again when there is room.
func (s *SQLite) freeing(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.replenish()
	err := s.tx(ctx, fn)
	if errcode.IsStorage(err) && s.reserve != "" {
		if rerr := os.Remove(s.reserve); rerr == nil {
			err = s.tx(ctx, fn)
		}
	}
	if err != nil {
		return err
	}
	// Best effort: the pages freed go back to the filesystem.
	if _, verr := s.db.ExecContext(ctx, `PRAGMA incremental_vacuum`); verr == nil {
		_, _ = s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	}
	s.replenish()
	return nil
}

// ReadOnly reports whether the store was opened read-only
// (OpenSQLiteReadOnly).
func (s *SQLite) ReadOnly() bool { return s.readOnly }

// OpenSQLiteReadOnly opens an existing database at path without writing to
// it (its disk is full or read-only), for a node that serves what it has
// and refuses new work. The schema must be this Lector's.
func OpenSQLiteReadOnly(ctx context.Context, path string) (*SQLite, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	s := &SQLite{db: db, path: path, hub: newHub(), readOnly: true}
	v, err := s.Version(ctx)
	if err == nil && v != len(sqliteMigrations)-1 {
		err = fmt.Errorf("store: the database has schema version %d and cannot be migrated to %d read-only", v, len(sqliteMigrations)-1)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}
