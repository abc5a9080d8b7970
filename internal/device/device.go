// Package device discovers where models can run: the `cpu` device (its cores
// and the memory this process may use) and one `cuda:N` device per NVIDIA GPU
// that NVML reports. No GPU library or no GPU means a CPU-only list.
package device

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/lector-ocr/lector/internal/memory"
)

// Kind is the kind of a device.
type Kind string

// Device kinds.
const (
	CPU  Kind = "cpu"
	CUDA Kind = "cuda"
)

// Device is one place a model can run.
type Device struct {
	ID    string `json:"id"`   // "cpu" or "cuda:N"
	Kind  Kind   `json:"kind"` // cpu or cuda
	Index int    `json:"index"`
	Name  string `json:"name"`
	UUID  string `json:"uuid,omitempty"`
	Cores int    `json:"cores,omitempty"` // CPU only
	Total uint64 `json:"total_bytes"`     // memory available to Lector at discovery
}

// IsGPU reports whether d is a GPU.
func (d Device) IsGPU() bool { return d.Kind == CUDA }

// CUDAID returns the ID of GPU index.
func CUDAID(index int) string { return "cuda:" + strconv.Itoa(index) }

// ParseID splits a device ID into kind and index; "cpu" has index 0.
func ParseID(id string) (Kind, int, error) {
	if id == string(CPU) {
		return CPU, 0, nil
	}
	if rest, ok := strings.CutPrefix(id, "cuda:"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 0 {
			return CUDA, n, nil
		}
	}
	return "", 0, fmt.Errorf("device: %q is not cpu or cuda:N", id)
}

// Discover lists the CPU device and every GPU. cores is the CPU's core count.
func Discover(cpu memory.Probe, gpus memory.GPUs, cores int) ([]Device, error) {
	u, err := cpu.Read()
	if err != nil {
		return nil, fmt.Errorf("device: reading CPU memory: %w", err)
	}
	out := []Device{{ID: string(CPU), Kind: CPU, Name: "cpu", Cores: cores, Total: u.Total}}
	if gpus == nil {
		return out, nil
	}
	for _, g := range gpus.Devices() {
		out = append(out, Device{ID: CUDAID(g.Index), Kind: CUDA, Index: g.Index, Name: g.Name, UUID: g.UUID, Total: g.Total})
	}
	return out, nil
}

// Probes returns the memory probe of each device, for the Monitor.
func Probes(devs []Device, cpu memory.Probe, gpus memory.GPUs) []memory.DeviceProbe {
	out := make([]memory.DeviceProbe, 0, len(devs))
	for _, d := range devs {
		if d.Kind == CPU {
			out = append(out, memory.DeviceProbe{Device: d.ID, Probe: cpu})
			continue
		}
		idx := d.Index
		out = append(out, memory.DeviceProbe{Device: d.ID, Probe: memory.ProbeFunc(func() (memory.Usage, error) { return gpus.Read(idx) })})
	}
	return out
}

// GPUIndex returns the index of a cuda:N id; ok is false for anything else.
func GPUIndex(id string) (int, bool) {
	k, i, err := ParseID(id)
	return i, err == nil && k == CUDA
}
