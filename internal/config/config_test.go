package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWithDefaultsFillsEveryField(t *testing.T) {
	t.Parallel()
	c := Config{}.WithDefaults(4)
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if c.ListenAddr != "127.0.0.1:8080" || c.Memory.WarningThreshold != 0.80 || c.Memory.CriticalThreshold != 0.95 ||
		c.Memory.EmergencyThreshold != 0.98 || c.Memory.Hysteresis != 0.05 || c.Memory.PollInterval != time.Second {
		t.Errorf("memory/listen defaults wrong: %+v %q", c.Memory, c.ListenAddr)
	}
	if *c.Models.KeepAlive != 5*time.Minute || c.Pool.CPULanes != 4 || c.Pool.GPULanes != 0 || c.Admission.StructureConcurrency != 2 {
		t.Errorf("runtime defaults wrong: keepalive %v lanes %d/%d structure %d", *c.Models.KeepAlive, c.Pool.CPULanes, c.Pool.GPULanes, c.Admission.StructureConcurrency)
	}
	if c.Limits.MaxInputBytes != 100<<20 || c.Limits.MaxPages != 1000 || c.Limits.MaxPixelsPerPage != 100_000_000 {
		t.Errorf("limit defaults wrong: %+v", c.Limits)
	}
}

func TestWithDefaultsKeepsSetValues(t *testing.T) {
	t.Parallel()
	zero := time.Duration(0)
	c := Config{ListenAddr: ":9", Models: Models{KeepAlive: &zero}, Pool: Pool{CPULanes: 7}}.WithDefaults(2)
	if c.ListenAddr != ":9" || *c.Models.KeepAlive != 0 || c.Pool.CPULanes != 7 {
		t.Fatalf("set values overwritten: %q %v %d", c.ListenAddr, *c.Models.KeepAlive, c.Pool.CPULanes)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		mod   func(*Config)
		field string
	}{
		{"warning above one", func(c *Config) { c.Memory.WarningThreshold = 1.2 }, "Memory.WarningThreshold"},
		{"critical negative", func(c *Config) { c.Memory.CriticalThreshold = -0.1 }, "Memory.CriticalThreshold"},
		{"critical below warning", func(c *Config) { c.Memory.CriticalThreshold = 0.7 }, "Memory.CriticalThreshold"},
		{"emergency below critical", func(c *Config) { c.Memory.EmergencyThreshold = 0.9 }, "Memory.EmergencyThreshold"},
		{"hysteresis negative", func(c *Config) { c.Memory.Hysteresis = -0.01 }, "Memory.Hysteresis"},
		{"poll negative", func(c *Config) { c.Memory.PollInterval = -time.Second }, "Memory.PollInterval"},
		{"lanes negative", func(c *Config) { c.Pool.CPULanes = -1 }, "Pool.CPULanes"},
		{"queue negative", func(c *Config) { c.Pool.QueueLength = -5 }, "Pool.QueueLength"},
		{"input negative", func(c *Config) { c.Limits.MaxInputBytes = -1 }, "Limits.MaxInputBytes"},
		{"structure negative", func(c *Config) { c.Admission.StructureConcurrency = -2 }, "Admission.StructureConcurrency"},
		{"cooldown cap below start", func(c *Config) { c.Models.MaxLoadCooldown = time.Second; c.Models.LoadCooldown = time.Minute }, "Models.MaxLoadCooldown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{}.WithDefaults(2)
			tt.mod(&c)
			err := c.Validate()
			field, ok := IsFieldError(err)
			if !ok || field != tt.field {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

// TestValidateRefusesAShortNodeTimeoutAndOtherDatabases: a node timeout
// under three heartbeat intervals (healthy nodes taken for dead), a
// key=value connection string and a URL of another scheme (taken for a
// SQLite file name before) are refused with a message that never holds the
// password; a path and postgres:// URLs pass.
func TestValidateRefusesAShortNodeTimeoutAndOtherDatabases(t *testing.T) {
	base := Config{DataDir: "/d"}.WithDefaults(4)
	c := base
	c.Tasks.HeartbeatInterval, c.Tasks.NodeTimeout = 2*time.Second, 5*time.Second
	var fe *FieldError
	if err := c.Validate(); !errors.As(err, &fe) || fe.Field != "Tasks.NodeTimeout" || !strings.Contains(err.Error(), "--heartbeat-interval") {
		t.Errorf("node timeout 5s, heartbeat 2s: %v", err)
	}
	c.Tasks.NodeTimeout = 6 * time.Second
	if err := c.Validate(); err != nil {
		t.Errorf("node timeout 6s, heartbeat 2s: %v", err)
	}
	for db, want := range map[string]string{
		"host=db user=lector password=s3cret dbname=lector": "postgres:// URL form",
		"  dbname=lector password=s3cret":                   "postgres:// URL form",
		"mysql://lector:s3cret@db/lector":                   "scheme mysql://",
		"postgres://lector:s3cret@db/lector":                "",
		"postgresql://lector@db/lector":                     "",
		"/var/lib/lector/tasks.db":                          "",
		"tasks=1.db":                                        "",
	} {
		c := base
		c.Database = db
		err := c.Validate()
		switch {
		case want == "" && err != nil:
			t.Errorf("%q refused: %v", db, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: %v, want an error saying %q", db, err, want)
		case err != nil && strings.Contains(err.Error(), "s3cret"):
			t.Errorf("%q: the error holds the password: %v", db, err)
		}
	}
}
