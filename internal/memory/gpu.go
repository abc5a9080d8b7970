package memory

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// GPUInfo describes one NVIDIA GPU.
type GPUInfo struct {
	Index int
	Name  string
	UUID  string
	Total uint64
}

// GPUs is what the rest of Lector needs from the GPU probe.
type GPUs interface {
	// Devices lists the GPUs found; empty when there is no library or GPU.
	Devices() []GPUInfo
	// Read returns the memory usage of GPU index.
	Read(index int) (Usage, error)
	// ProcessUsed returns GPU memory used per pid on GPU index.
	ProcessUsed(index int) (map[int]uint64, error)
}

// NVML is the GPU probe through NVIDIA's management library, loaded at run
// time. Without the library, or with it and no GPU, it has no devices: that is
// logged once and is not an error.
type NVML struct {
	mu      sync.Mutex // serialises NVML calls and guards devices
	lib     nvml.Interface
	handles []nvml.Device
	infos   []GPUInfo
	open    bool
}

var _ GPUs = (*NVML)(nil)

// OpenNVML loads the library at libPath ("" means libnvidia-ml.so.1 on the
// loader's path) and enumerates GPUs.
func OpenNVML(libPath string, log *slog.Logger) *NVML {
	var opts []nvml.LibraryOption
	if libPath != "" {
		opts = append(opts, nvml.WithLibraryPath(libPath))
	}
	n := &NVML{lib: nvml.New(opts...)}
	if ret := n.lib.Init(); ret != nvml.SUCCESS {
		log.Info("no NVIDIA GPU support: NVML unavailable", "reason", nvml.ErrorString(ret))
		return n
	}
	n.open = true
	count, ret := n.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		log.Info("no NVIDIA GPU: device count failed", "reason", nvml.ErrorString(ret))
		return n
	}
	for i := range count {
		d, ret := n.lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			log.Warn("skipping GPU", "index", i, "reason", nvml.ErrorString(ret))
			continue
		}
		name, _ := d.GetName()
		uuid, _ := d.GetUUID()
		mem, ret := d.GetMemoryInfo()
		if ret != nvml.SUCCESS {
			log.Warn("skipping GPU", "index", i, "reason", nvml.ErrorString(ret))
			continue
		}
		n.handles = append(n.handles, d)
		n.infos = append(n.infos, GPUInfo{Index: i, Name: name, UUID: uuid, Total: mem.Total})
	}
	if len(n.infos) == 0 {
		log.Info("no NVIDIA GPU found")
	}
	return n
}

// Devices lists the GPUs found at open.
func (n *NVML) Devices() []GPUInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]GPUInfo(nil), n.infos...)
}

func (n *NVML) handleLocked(index int) (nvml.Device, error) {
	for i, info := range n.infos {
		if info.Index == index {
			return n.handles[i], nil
		}
	}
	return nil, fmt.Errorf("memory: no GPU %d", index)
}

// Read returns GPU index's memory.
func (n *NVML) Read(index int) (Usage, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	d, err := n.handleLocked(index)
	if err != nil {
		return Usage{}, err
	}
	mem, ret := d.GetMemoryInfo()
	if ret != nvml.SUCCESS {
		return Usage{}, fmt.Errorf("memory: reading GPU %d: %s", index, nvml.ErrorString(ret))
	}
	return Usage{Total: mem.Total, Used: mem.Used}, nil
}

// ProcessUsed returns the GPU memory of each compute process on GPU index.
func (n *NVML) ProcessUsed(index int) (map[int]uint64, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	d, err := n.handleLocked(index)
	if err != nil {
		return nil, err
	}
	procs, ret := d.GetComputeRunningProcesses()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("memory: listing GPU %d processes: %s", index, nvml.ErrorString(ret))
	}
	out := make(map[int]uint64, len(procs))
	for _, p := range procs {
		out[int(p.Pid)] += p.UsedGpuMemory
	}
	return out, nil
}

// Close shuts NVML down; it is idempotent.
func (n *NVML) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.open {
		n.lib.Shutdown()
		n.open = false
	}
}
