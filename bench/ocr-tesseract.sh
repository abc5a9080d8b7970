#!/usr/bin/env bash
# OCRs the same 20 pages three ways on this machine, in one run:
#   1. lector ocr (runtime in-process, Tesseract runners, one lane per core)
#   2. the tesseract command, one page at a time (its default threading)
#   3. the tesseract command, one process per core in parallel (OMP_THREAD_LIMIT=1)
# and prints pages per second and the peak RSS of the whole process tree for
# each, and Lector's ratios. The pages: linn.png and the three evaluation
# PDFs rendered at 300 DPI, five times over.
#
#   bench/ocr-tesseract.sh
set -euo pipefail
cd "$(dirname "$0")/.."
EVAL=${EVAL:-../shared/eval}
export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g -Wno-deprecated-declarations}"
go build -o bin/lector ./cmd/lector
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/pages" "$work/out1" "$work/out2" "$work/out3"
i=0
for pdf in "$EVAL"/pdfs/*.pdf; do
  pdftoppm -r 300 -gray -png -singlefile "$pdf" "$work/src$i"; i=$((i+1))
done
cp "$EVAL/pages/linn.png" "$work/src$i.png"
n=0
for rep in 1 2 3 4 5; do
  for f in "$work"/src*.png; do cp "$f" "$work/pages/p$(printf %02d $n).png"; n=$((n+1)); done
done
cores=$(nproc)

# measure NAME COMMAND...: wall time and peak RSS (KiB) of the process tree.
measure() {
  local name=$1; shift
  local start end peak=0
  start=$(date +%s.%N)
  setsid "$@" >/dev/null 2>&1 &
  local pid=$!
  while kill -0 $pid 2>/dev/null; do
    local rss
    rss=$(ps -o rss= -s $pid 2>/dev/null | awk '{s+=$1} END {print s+0}')
    [ "$rss" -gt "$peak" ] && peak=$rss
    sleep 0.05
  done
  wait $pid || true
  end=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'{sys.argv[3]:<34} pages={sys.argv[4]} seconds={s:6.2f} pages_per_second={int(sys.argv[4])/s:5.2f} peak_tree_rss_mib={int(sys.argv[5])/1024:6.0f}')" "$start" "$end" "$name" "$n" "$peak" | tee -a "$work/results"
}

measure "lector ocr" bin/lector ocr --format txt --jobs "$cores" ${LECTOR_ARGS:-} -o "$work/out1" "$work"/pages/*.png
if [ -n "${SKIP_SEQUENTIAL:-}" ]; then echo "tesseract, one page at a time      pages=$n seconds=0 pages_per_second=1 peak_tree_rss_mib=0 (skipped)" >> "$work/results"; else
measure "tesseract, one page at a time" bash -c "for f in $work/pages/*.png; do tesseract \$f $work/out2/\$(basename \$f .png) >/dev/null 2>&1; done"
fi
measure "tesseract, $cores processes (OMP=1)" bash -c "ls $work/pages/*.png | OMP_THREAD_LIMIT=1 xargs -P $cores -I{} sh -c 'tesseract {} $work/out3/\$(basename {} .png) >/dev/null 2>&1'"
python3 - "$work/results" <<'PY'
import sys, re
rows = [dict(re.findall(r'(\w+)=\s*([\d.]+)', l)) for l in open(sys.argv[1])]
l, s, p = (float(r['pages_per_second']) for r in rows)
print(f"lector / sequential tesseract: {l/s:.2f}x   lector / parallel tesseract: {l/p:.2f}x")
PY
