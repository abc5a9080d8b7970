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

APT_PACKAGES := gcc g++ pkg-config ca-certificates libtesseract-dev tesseract-ocr-eng tesseract-ocr-chi-sim tesseract-ocr-chi-tra tesseract-ocr-osd poppler-utils qpdf libtiff-tools

.PHONY: setup build run test check bench clean

setup: ## install system packages and Go modules (idempotent)
	@./scripts/setup.sh $(APT_PACKAGES)
	@$(GO) mod download

build: setup
	$(GO) build -o $(BIN) ./cmd/lector

run: build ## set up and start the service with embedded defaults
	./$(BIN) serve

check: setup ## formatting and vet
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

test: check ## set up and run every test with the race detector
	$(GO) test -race -count=1 -timeout 15m ./...

bench: setup ## Go benchmarks (figures go to docs/BENCHMARKS.md)
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
