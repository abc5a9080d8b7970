#!/usr/bin/env bash
# Load on loopback against a real `lector serve` (embedded SQLite, default
# settings): accepted submissions per second, and end-to-end latency (p50,
# p99) of a small image for 1, 4 and 16 concurrent clients, synchronous and
# asynchronous. Figures go to docs/BENCHMARKS.md.
#
#   bench/serve-load.sh            # defaults below
#   CLIENTS=1,4 REQUESTS=5 bench/serve-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_THREAD_LIMIT=1
IMAGE=${IMAGE:-../shared/eval/lines/010001.bin.png}
CLIENTS=${CLIENTS:-1,4,16}
REQUESTS=${REQUESTS:-10}
PORT=${PORT:-18090}
source bench/lib.sh # build_lector, eval_pages, measure
build_lector
go build -o bin/loadgen ./bench/loadgen
data=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
bin/lector serve --listen 127.0.0.1:$PORT --data-dir "$data" --enable-synthetic ${LECTOR_ARGS:-} >"$data/out" 2>"$data/log" &
pid=$!
for _ in $(seq 100); do grep -q listening "$data/out" 2>/dev/null && break; sleep 0.1; done
echo "# $(nproc --all) cores; image $(basename "$IMAGE") ($(stat -c %s "$IMAGE") bytes); server: lector serve defaults ${LECTOR_ARGS:-}"
bin/loadgen --server http://127.0.0.1:$PORT --file "$IMAGE" --clients "$CLIENTS" --requests "$REQUESTS" \
	--submit-model synthetic:1MiB ${LOADGEN_ARGS:-}
echo "# database after the run: $(du -sh "$data/lector.db" | cut -f1)"
