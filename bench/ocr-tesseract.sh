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
source bench/lib.sh # build_lector, eval_pages, measure
build_lector
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/out1" "$work/out2" "$work/out3"
n=$(eval_pages "$work/pages" 5)
cores=$(nproc --all)

measure "lector ocr" "$n" bin/lector ocr --format txt --jobs "$cores" ${LECTOR_ARGS:-} -o "$work/out1" "$work"/pages/*.png | tee -a "$work/results"
if [ -n "${SKIP_SEQUENTIAL:-}" ]; then echo "tesseract, one page at a time      pages=$n seconds=0 pages_per_second=1 peak_tree_rss_mib=0 (skipped)" >> "$work/results"; else
measure "tesseract, one page at a time" "$n" bash -c "for f in $work/pages/*.png; do tesseract \$f $work/out2/\$(basename \$f .png) >/dev/null 2>&1; done" | tee -a "$work/results"
fi
measure "tesseract, $cores processes (OMP=1)" "$n" bash -c "ls $work/pages/*.png | OMP_THREAD_LIMIT=1 xargs -P $cores -I{} sh -c 'tesseract {} $work/out3/\$(basename {} .png) >/dev/null 2>&1'" | tee -a "$work/results"
python3 - "$work/results" <<'PY'
import sys, re
rows = [dict(re.findall(r'(\w+)=\s*([\d.]+)', l)) for l in open(sys.argv[1])]
l, s, p = (float(r['pages_per_second']) for r in rows)
print(f"lector / sequential tesseract: {l/s:.2f}x   lector / parallel tesseract: {l/p:.2f}x")
PY
