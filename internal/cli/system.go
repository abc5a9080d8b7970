package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"text/tabwriter"

	"github.com/lector-ocr/lector/internal/config"
	"github.com/lector-ocr/lector/internal/device"
	"github.com/lector-ocr/lector/internal/memory"
	"github.com/lector-ocr/lector/internal/server"
)

// node is the hardware view of this process: its devices and their monitor.
type node struct {
	devices []device.Device
	cpu     *memory.CPUProbe
	gpus    *memory.NVML
	monitor *memory.Monitor
}

func openNode(cfg config.Config, nvmlPath string, log *slog.Logger) (*node, error) {
	cpu := memory.NewCPUProbe("")
	gpus := memory.OpenNVML(nvmlPath, log)
	devs, err := device.Discover(cpu, gpus, runtime.NumCPU())
	if err != nil {
		gpus.Close()
		return nil, err
	}
	m := memory.NewMonitor(memory.MonitorOptions{
		Probes:     device.Probes(devs, cpu, gpus),
		Thresholds: thresholds(cfg),
		Interval:   cfg.Memory.PollInterval,
		Log:        log,
	})
	return &node{devices: devs, cpu: cpu, gpus: gpus, monitor: m}, nil
}

func (n *node) close() { n.gpus.Close() }

func thresholds(cfg config.Config) memory.Thresholds {
	return memory.Thresholds{
		Warning: cfg.Memory.WarningThreshold, Critical: cfg.Memory.CriticalThreshold,
		Emergency: cfg.Memory.EmergencyThreshold, Hysteresis: cfg.Memory.Hysteresis,
	}
}

// SystemReport is the JSON shape of `lector system --json`: GET
// /v1/system's, without what only a server has.
type SystemReport = server.SystemView

func runSystem(ctx context.Context, io IO, args []string) error {
	fs := flag.NewFlagSet("system", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	nvmlPath := fs.String("nvml-library", "", "path of libnvidia-ml.so.1 (default: the loader's search path)")
	cfg, err := parseConfig(fs, io, args)
	if err != nil {
		return err
	}
	n, err := openNode(cfg, *nvmlPath, slog.New(slog.NewTextHandler(io.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer n.close()
	if err := n.monitor.Poll(); err != nil {
		return err
	}
	rep := SystemReport{Thresholds: n.monitor.Thresholds()}
	for i, s := range n.monitor.Snapshot() {
		d := server.SystemDevice{Device: n.devices[i], Memory: s.Usage, Level: s.Level}
		if d.Kind == device.CPU {
			d.Cgroup = n.cpu.Cgroup().Dir
		}
		rep.Devices = append(rep.Devices, d)
	}
	if *asJSON {
		enc := json.NewEncoder(io.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	tw := tabwriter.NewWriter(io.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tNAME\tUSED\tTOTAL\tUSED%\tLEVEL")
	for _, d := range rep.Devices {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f%%\t%s\n", d.ID, d.Name, FormatBytes(d.Memory.Used), FormatBytes(d.Memory.Total), 100*d.Memory.Fraction(), d.Level)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(io.Stdout, "thresholds: warning %.0f%%, critical %.0f%%, emergency %.0f%%, hysteresis %.0f%%\n",
		100*rep.Thresholds.Warning, 100*rep.Thresholds.Critical, 100*rep.Thresholds.Emergency, 100*rep.Thresholds.Hysteresis)
	return err
}

// FormatBytes prints a size in binary units.
func FormatBytes(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}

func runVersion(_ context.Context, io IO, _ []string) error {
	version, revision := "(devel)", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	_, err := fmt.Fprintf(io.Stdout, "lector %s (%s) %s %s/%s\n", version, revision, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
