#!/usr/bin/env bash
# The whole program's memory as `lector serve` runs one big task: the RSS
# of the process tree (server + runners, summed) and of the server alone,
# at idle, right after a 9-page scanned PDF task (linn.png, a 300-dpi
# scan, nine times; pdf_text=force, so its pages are rendered and read
# rather than taken from the text layer `lector ocr` gave them), and 10 s
# after the model's keep-alive (5 s) expired.
# Usage: bench/server-memory.sh [BINARY] (default: build bin/lector).
set -euo pipefail
cd "$(dirname "$0")/.."
EVAL=${EVAL:-../shared/eval}
export OMP_THREAD_LIMIT=1
source bench/lib.sh
bin=${1:-}
if [ -z "$bin" ]; then build_lector; bin=bin/lector; fi
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
# A scanned PDF: the page as an image with Tesseract's text layer, nine times.
"$bin" ocr --format pdf -o "$work/one.pdf" "$EVAL/pages/linn.png" >/dev/null 2>&1
qpdf --empty --pages $(for _ in $(seq 9); do echo "$work/one.pdf"; done) -- "$work/scan9.pdf"
port=$((20000 + RANDOM % 20000))
base=http://127.0.0.1:$port
"$bin" serve --listen 127.0.0.1:$port --data-dir "$work/data" --keep-alive 5s >/dev/null 2>"$work/log" &
pid=$!
until curl -fs "$base/readyz" >/dev/null 2>&1; do sleep 0.2; done

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
tree() { # pid and its descendants
  local p=$1; echo "$p"
  for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree "$c"; done
}
report() {
  local total=0
  for p in $(tree "$pid"); do total=$((total + $(rss "$p"))); done
  printf '%-36s tree %4d MiB   server %4d MiB (anonymous %d MiB, Go heap in use %s)\n' "$1" $((total / 1024)) $(($(rss "$pid") / 1024)) \
    $(($(awk '/^RssAnon/ {print $2}' "/proc/$pid/status") / 1024)) \
    "$(curl -fs "$base/metrics" | awk '$1 == "go_memstats_heap_inuse_bytes" {printf "%d MiB", $2 / 1048576}')"
}
report "idle"
id=$(curl -fs -F file=@"$work/scan9.pdf" -F pdf_text=force "$base/v1/tasks" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
until curl -fs "$base/v1/tasks/$id" | grep -q '"status":"succeeded"'; do sleep 0.2; done
report "after the 9-page task"
until curl -fs "$base/v1/models" | grep -q '"loaded":\[\]'; do sleep 0.2; done
sleep 10
report "10 s after the keep-alive expired"
