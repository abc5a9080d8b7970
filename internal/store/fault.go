package store

import (
	"errors"

	"modernc.org/sqlite"

	"github.com/lector-ocr/lector/internal/errcode"
)

// SQLite's primary result codes of a database that cannot be written
// (sqlite.org/rescode.html): SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL.
const (
	sqliteReadOnly = 8
	sqliteIOErr    = 10
	sqliteFull     = 13
)

// Fault classifies err: a database or disk that cannot be written (the
// disk full, read-only or failing) is a storage fault, errcode
// unavailable and retryable (errcode.StorageFault); anything else is
// returned unchanged.
func Fault(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqliteReadOnly, sqliteIOErr, sqliteFull:
			return errcode.StorageFault(err)
		}
	}
	return errcode.Storage(err)
}
