package memory

import "encoding/json"

// Usage is one reading of a device's memory, in bytes.
type Usage struct {
	Total uint64
	Used  uint64
}

// Fraction is Used/Total, 0 when Total is 0.
func (u Usage) Fraction() float64 {
	if u.Total == 0 {
		return 0
	}
	return float64(u.Used) / float64(u.Total)
}

// Free is Total-Used, never negative.
func (u Usage) Free() uint64 {
	if u.Used >= u.Total {
		return 0
	}
	return u.Total - u.Used
}

// MarshalJSON writes total, used and fraction.
func (u Usage) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Total    uint64  `json:"total_bytes"`
		Used     uint64  `json:"used_bytes"`
		Fraction float64 `json:"fraction"`
	}{u.Total, u.Used, u.Fraction()})
}

// Probe reads one device's memory.
type Probe interface {
	Read() (Usage, error)
}

// ProbeFunc adapts a function to Probe.
type ProbeFunc func() (Usage, error)

// Read calls f.
func (f ProbeFunc) Read() (Usage, error) { return f() }

// UnmarshalJSON reads what MarshalJSON writes.
func (u *Usage) UnmarshalJSON(b []byte) error {
	var v struct {
		Total uint64 `json:"total_bytes"`
		Used  uint64 `json:"used_bytes"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	u.Total, u.Used = v.Total, v.Used
	return nil
}
