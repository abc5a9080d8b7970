package memory

import "testing"

func TestThresholdsNext(t *testing.T) {
	t.Parallel()
	th := Thresholds{Warning: 0.80, Critical: 0.95, Emergency: 0.98, Hysteresis: 0.05}
	tests := []struct {
		from Level
		frac float64
		want Level
	}{
		{LevelOK, 0.10, LevelOK},
		{LevelOK, 0.7999, LevelOK},
		{LevelOK, 0.80, LevelWarning},
		{LevelOK, 0.95, LevelCritical},
		{LevelOK, 0.98, LevelEmergency},
		{LevelOK, 1.00, LevelEmergency},
		{LevelWarning, 0.78, LevelWarning},  // inside hysteresis
		{LevelWarning, 0.75, LevelWarning},  // exactly at the exit point stays
		{LevelWarning, 0.7499, LevelOK},     // below it leaves
		{LevelWarning, 0.96, LevelCritical}, // rises at once
		{LevelWarning, 0.99, LevelEmergency},
		{LevelCritical, 0.91, LevelCritical},
		{LevelCritical, 0.8999, LevelWarning}, // left critical, warning still holds
		{LevelCritical, 0.76, LevelWarning},
		{LevelCritical, 0.50, LevelOK}, // straight down past both exits
		{LevelCritical, 0.985, LevelEmergency},
		{LevelEmergency, 0.94, LevelEmergency},
		{LevelEmergency, 0.9299, LevelCritical},
		{LevelEmergency, 0.80, LevelWarning},
		{LevelEmergency, 0.10, LevelOK},
	}
	for _, tt := range tests {
		if got := th.Next(tt.from, tt.frac); got != tt.want {
			t.Errorf("Next(%v, %v) = %v, want %v", tt.from, tt.frac, got, tt.want)
		}
	}
}

func TestThresholdsNoHysteresis(t *testing.T) {
	t.Parallel()
	th := Thresholds{Warning: 0.8, Critical: 0.9, Emergency: 0.99}
	if got := th.Next(LevelWarning, 0.7999); got != LevelOK {
		t.Fatalf("without hysteresis warning should leave below 0.8, got %v", got)
	}
}
