// Package obs is how every long-lived part of Lector is given its clock
// and logger: a Clock and a Log field in its options, each defaulted here,
// so that a part built without them keeps real time and logs nothing, and a
// test hands it a fake clock and its own logger.
package obs

import (
	"log/slog"

	"github.com/lector-ocr/lector/internal/clock"
)

// Clock returns c, or the real clock when c is nil.
func Clock(c clock.Clock) clock.Clock {
	if c == nil {
		return clock.Real{}
	}
	return c
}

// Log returns l, or a logger that discards everything when l is nil.
func Log(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
