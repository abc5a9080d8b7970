package device

import (
	"testing"

	"github.com/lector-ocr/lector/internal/memory"
)

type fakeGPUs struct{ infos []memory.GPUInfo }

func (f fakeGPUs) Devices() []memory.GPUInfo { return f.infos }
func (f fakeGPUs) Read(i int) (memory.Usage, error) {
	return memory.Usage{Total: f.infos[i].Total, Used: uint64(i+1) << 30}, nil
}
func (f fakeGPUs) ProcessUsed(int) (map[int]uint64, error) { return nil, nil }

func TestDiscoverCPUAndGPUs(t *testing.T) {
	t.Parallel()
	cpu := memory.ProbeFunc(func() (memory.Usage, error) { return memory.Usage{Total: 8 << 30, Used: 1 << 30}, nil })
	gpus := fakeGPUs{[]memory.GPUInfo{{Index: 0, Name: "H100", UUID: "GPU-a", Total: 80 << 30}, {Index: 1, Name: "H100", UUID: "GPU-b", Total: 80 << 30}}}
	devs, err := Discover(cpu, gpus, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 3 || devs[0].ID != "cpu" || devs[0].Cores != 4 || devs[0].Total != 8<<30 ||
		devs[1].ID != "cuda:0" || devs[2].ID != "cuda:1" || devs[2].UUID != "GPU-b" || !devs[1].IsGPU() {
		t.Fatalf("Discover = %+v", devs)
	}
	probes := Probes(devs, cpu, gpus)
	u, _ := probes[2].Probe.Read()
	if probes[2].Device != "cuda:1" || u.Used != 2<<30 {
		t.Fatalf("GPU probe reads wrong device: %s %+v", probes[2].Device, u)
	}
}

func TestDiscoverWithoutNVML(t *testing.T) {
	t.Parallel()
	devs, err := Discover(memory.NewCPUProbe(""), nil, 2)
	if err != nil || len(devs) != 1 || devs[0].Kind != CPU || devs[0].Total == 0 {
		t.Fatalf("Discover = %+v, %v", devs, err)
	}
}

func TestParseID(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		id    string
		kind  Kind
		index int
		ok    bool
	}{{"cpu", CPU, 0, true}, {"cuda:3", CUDA, 3, true}, {"cuda:-1", "", 0, false}, {"gpu", "", 0, false}, {"cuda:", "", 0, false}} {
		k, i, err := ParseID(tt.id)
		if (err == nil) != tt.ok || k != tt.kind || i != tt.index {
			t.Errorf("ParseID(%q) = %v %v %v", tt.id, k, i, err)
		}
	}
}
