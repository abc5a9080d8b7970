# Lector's build, setup and test entry points. Every target installs what it
# needs when it is missing, so a fresh Debian machine needs only `make run`
# or `make test`.

SHELL := /bin/bash
GO ?= go
BIN := bin/lector
# go-nvml's header marks some NVML calls deprecated; the warnings are harmless.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations
# Tesseract (and other OpenMP engines) must see this at process start.
export OMP_THREAD_LIMIT ?= 1

APT_PACKAGES := gcc g++ cmake pkg-config ca-certificates libtesseract-dev tesseract-ocr-eng tesseract-ocr-chi-sim tesseract-ocr-chi-tra tesseract-ocr-osd poppler-utils qpdf libtiff-tools libjpeg-turbo-progs postgresql chromium fonts-dejavu-core

# Go commands link Lector's own Tesseract build when it is there
# (scripts/tesseract.sh), Debian's libtesseract otherwise.
CGO_GO = CGO_LDFLAGS="$$(./scripts/tesseract.sh --ldflags) $$CGO_LDFLAGS" $(GO)

.PHONY: setup setup-gpu build run test check bench clean

setup: ## install system packages, Lector's Tesseract build, ONNX Runtime with the PP-OCR models, and Go modules (idempotent)
	@./scripts/setup.sh $(APT_PACKAGES)
	@./scripts/tesseract.sh || echo "warning: building Tesseract failed; Lector links Debian's libtesseract (same results, slower)" >&2
	@./scripts/onnxruntime.sh
	@$(GO) mod download

setup-gpu: setup ## also install ONNX Runtime's CUDA provider for ppocr on NVIDIA GPUs (230 MB)
	@./scripts/onnxruntime.sh --gpu

build: setup
	$(CGO_GO) build -o $(BIN) ./cmd/lector

run: build ## set up and start the service with embedded defaults
	./$(BIN) serve

check: setup ## formatting and vet
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(CGO_GO) vet ./...

test: check ## set up and run every test with the race detector, then the memory-measuring and large-page ones without it
	$(CGO_GO) test -race -count=1 -parallel 4 -timeout 15m ./...
	$(CGO_GO) test -count=1 -timeout 10m -run 'TestTasksThatFitAloneSucceedIn512MiB|TestTaskWaitingForOthersMemoryGoesBackToTheQueue|TestLoadedModelIsCountedOnceIn512MiB|TestPPOCRRunsInAFresh512MiBServer' ./internal/cli
	$(CGO_GO) test -count=1 -timeout 10m -run 'TestDensePageTurnedAQuarterIsReadUpright|TestOwnOutputLeavesTheArenaEmpty|TestTurnedPageCostsWhatUprightDoes' ./internal/engine/ppocr

bench: setup ## Go benchmarks (figures go to docs/BENCHMARKS.md)
	$(CGO_GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
