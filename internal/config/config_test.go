package config

import (
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
