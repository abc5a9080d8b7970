#!/usr/bin/env bash
# Whole-program run of the runtime: `lector ocr` on N one-megapixel PNG pages
# with a zero-time synthetic model (so what is measured is Lector itself:
# process start, runner start, admission, lanes, IPC, output). Prints
# pages per second and the peak RSS of the process tree (lector + runner).
#
#   bench/ocr-synthetic.sh [N]        (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
source bench/lib.sh # build_lector, eval_pages, measure
build_lector
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" "$N" <<'PY'
import sys, zlib, struct
d, n = sys.argv[1], int(sys.argv[2])
w = h = 1000
raw = b''.join(b'\x00' + bytes((x * 7 + y) & 255 for x in range(w)) for y in range(h))
def chunk(t, b): return struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b) & 0xffffffff)
png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b'')
for i in range(n):
    open(f"{d}/p{i:04d}.png", "wb").write(png)
PY
peak=0
start=$(date +%s.%N)
bin/lector ocr --enable-synthetic --model synthetic:1MiB --jobs 4 --format json "$work"/*.png > "$work/out.jsonl" &
pid=$!
while kill -0 $pid 2>/dev/null; do
  rss=0
  for p in $pid $(pgrep -P $pid || true); do
    r=$(awk '/VmRSS/{print $2}' /proc/$p/status 2>/dev/null || echo 0); rss=$((rss + ${r:-0}))
  done
  [ $rss -gt $peak ] && peak=$rss
  sleep 0.05
done
wait $pid
end=$(date +%s.%N)
pages=$(wc -l < "$work/out.jsonl")
python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'pages={sys.argv[3]} seconds={s:.2f} pages_per_second={int(sys.argv[3])/s:.0f} peak_tree_rss_mib={int(sys.argv[4])/1024:.0f}')" "$start" "$end" "$pages" "$peak"
