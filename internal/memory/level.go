package memory

import (
	"fmt"
	"time"
)

// Level is a device's memory state.
type Level int

// Levels from best to worst.
const (
	LevelOK Level = iota
	LevelWarning
	LevelCritical
	LevelEmergency
)

var levelNames = [...]string{"ok", "warning", "critical", "emergency"}

func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return fmt.Sprintf("level(%d)", int(l))
	}
	return levelNames[l]
}

// MarshalText writes the level's name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// DefaultThresholds are the levels' thresholds of `lector serve` unless
// configured: warning at 80 %, critical at 95 %, emergency at 98 %, and a
// level is left 5 points below where it was entered.
var DefaultThresholds = Thresholds{Warning: 0.80, Critical: 0.95, Emergency: 0.98, Hysteresis: 0.05}

// DefaultPollInterval is how often the monitor reads every device.
const DefaultPollInterval = time.Second

// Thresholds are the used fractions at which levels start, and how far under
// a threshold usage must fall for its level to be left.
type Thresholds struct {
	Warning    float64 `json:"warning"`
	Critical   float64 `json:"critical"`
	Emergency  float64 `json:"emergency"`
	Hysteresis float64 `json:"hysteresis"`
}

func (t Thresholds) start(l Level) float64 {
	switch l {
	case LevelWarning:
		return t.Warning
	case LevelCritical:
		return t.Critical
	case LevelEmergency:
		return t.Emergency
	}
	return 0
}

// Next returns the level after observing fraction while at cur. A level is
// entered as soon as fraction reaches its threshold; it is left only when
// fraction falls below its threshold minus the hysteresis, and then to the
// highest lower level whose own exit point fraction still reaches.
func (t Thresholds) Next(cur Level, fraction float64) Level {
	raw := LevelOK
	for l := LevelEmergency; l > LevelOK; l-- {
		if fraction >= t.start(l) {
			raw = l
			break
		}
	}
	if raw >= cur {
		return raw
	}
	for l := cur; l > raw; l-- {
		if fraction >= t.start(l)-t.Hysteresis {
			return l
		}
	}
	return raw
}

// UnmarshalText reads a level's name.
func (l *Level) UnmarshalText(b []byte) error {
	for i, n := range levelNames {
		if n == string(b) {
			*l = Level(i)
			return nil
		}
	}
	return fmt.Errorf("memory: unknown level %q", b)
}
