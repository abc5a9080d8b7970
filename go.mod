module github.com/lector-ocr/lector

go 1.26.8

require (
	github.com/NVIDIA/go-nvml v0.13.4-1
	go.uber.org/goleak v1.3.0
	golang.org/x/sync v0.25.0
	golang.org/x/sys v0.50.0
)
