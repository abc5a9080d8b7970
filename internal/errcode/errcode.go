// Package errcode gives Lector's errors stable codes. Every failure a user
// can meet carries one Code; the HTTP layer maps codes to statuses in one
// table, and internal details stay in the wrapped error for logs.
package errcode

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Code is a stable, documented error code.
type Code string

// The codes users meet.
const (
	Internal             Code = "internal"
	InvalidArgument      Code = "invalid_argument"
	UnknownModel         Code = "unknown_model"
	QueueFull            Code = "queue_full"
	InsufficientMemory   Code = "insufficient_memory"
	UnsupportedMediaType Code = "unsupported_media_type"
	InvalidDocument      Code = "invalid_document"
	TooLarge             Code = "too_large"
	TooManyPages         Code = "too_many_pages"
	TooManyPixels        Code = "too_many_pixels"
	EncryptedPDF         Code = "encrypted_pdf"
	ModelLoadFailed      Code = "model_load_failed"
	EngineCrashed        Code = "engine_crashed"
	Timeout              Code = "timeout"
	Canceled             Code = "canceled"
	Unavailable          Code = "unavailable"
	NotFound             Code = "not_found"
	NotFinished          Code = "not_finished" // a result asked for before its task ended
	Gone                 Code = "gone"         // a result deleted (retention) or never stored
	Unauthorized         Code = "unauthorized" // no or a wrong bearer token
	// Forbidden: a browser's request that changes something came from
	// another site, or without the page's own header (cross-site request
	// forgery).
	Forbidden Code = "forbidden"
	// DeviceUnavailable: the device asked for is not here, is turned off,
	// or cannot run the model (no GPU, no CUDA driver, a CPU-only model).
	DeviceUnavailable Code = "device_unavailable"
	// PDFNotWritten: the searchable PDF could not be written, even after
	// its fallbacks (qpdf's repair, pages rebuilt by poppler, an image
	// re-coded). The task still succeeds with its other formats; only
	// its PDF is missing, and asking for it answers this code.
	PDFNotWritten Code = "pdf_not_written"
)

// All lists every code, in the order above (for tables that must cover
// them all, such as the HTTP server's statuses).
var All = []Code{Internal, InvalidArgument, UnknownModel, QueueFull, InsufficientMemory, UnsupportedMediaType,
	InvalidDocument, TooLarge, TooManyPages, TooManyPixels, EncryptedPDF, ModelLoadFailed, EngineCrashed, Timeout,
	Canceled, Unavailable, NotFound, NotFinished, Gone, Unauthorized, Forbidden, DeviceUnavailable, PDFNotWritten}

// Retryable reports whether a task that failed with code may succeed if it
// runs again unchanged: a crashed engine or a node going away, never a bad
// input or option.
func Retryable(code Code) bool {
	switch code {
	case EngineCrashed, Unavailable, ModelLoadFailed:
		return true
	}
	return false
}

// Error is an error with a Code and a message fit for users.
type Error struct {
	Code Code
	Msg  string
	Err  error // the cause, for logs; may be nil
	// RetryAfter, when set, is how long a refused client should wait.
	RetryAfter time.Duration
}

// RetryAfterOf returns the wait err suggests (0 if none).
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error with code and a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an error with code and message that wraps cause.
func Wrap(code Code, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// Of returns err's code: the outermost *Error's, Canceled or Timeout for
// context errors, Internal otherwise, "" for nil.
func Of(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	switch {
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout
	}
	return Internal
}

// Message returns the user-facing message of err.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	return err.Error()
}
