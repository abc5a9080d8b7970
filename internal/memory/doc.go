// Package memory measures memory and turns it into levels.
//
// Probes read one figure each: the CPU probe (container-aware: the memory
// cgroup's limit and working set where one is set, /proc/meminfo otherwise),
// the process probe (RSS and peak RSS of a pid or a process tree), and the
// GPU probe (NVML, loaded at run time; no library or no GPU means no GPU
// devices, never an error). The Monitor polls a set of device probes, keeps a
// snapshot, turns each device's used fraction into a Level with hysteresis and
// tells subscribers about level changes.
package memory
