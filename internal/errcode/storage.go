package errcode

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// ErrStorage marks a storage fault: the server's own disk or database
// could not be written. It is the server's problem, never the client's.
var ErrStorage = errors.New("storage fault")

// StorageRetryAfter is how long a client refused for a storage fault is
// told to wait.
const StorageRetryAfter = 30 * time.Second

// storageErrnos are the write failures that are the server's: a full disk
// (ENOSPC, EDQUOT), a read-only one (EROFS), a failing one (EIO).
var storageErrnos = []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EIO}

// IsStorage reports whether err is, or wraps, a storage fault.
func IsStorage(err error) bool {
	if errors.Is(err, ErrStorage) {
		return true
	}
	for _, n := range storageErrnos {
		if errors.Is(err, n) {
			return true
		}
	}
	return false
}

// Storage returns err as an unavailable error (retryable; a 503 with
// Retry-After at the API) when it is a storage fault (IsStorage), and err
// unchanged otherwise — so an ENOSPC under, say, an invalid_document from
// a page that could not be rendered is reported as the server's.
func Storage(err error) error {
	if err == nil || !IsStorage(err) {
		return err
	}
	return StorageFault(err)
}

// StorageFault wraps err, which the caller knows to be a storage fault
// (the database said it is full), as unavailable.
func StorageFault(err error) error {
	var inner *Error
	if errors.As(err, &inner) && inner.Code == Unavailable && errors.Is(err, ErrStorage) {
		return err
	}
	e := Wrap(Unavailable, fmt.Errorf("%w: %w", ErrStorage, err), "the server cannot write its storage (%v); try again later", err)
	e.RetryAfter = StorageRetryAfter
	return e
}
