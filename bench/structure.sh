#!/usr/bin/env bash
# The structure pipeline on the evaluation pages (linn.png and the three
# PDFs' pages rendered at 300 DPI, each twice): pages per second and peak
# memory of the whole process tree, beside the OCR pipeline on the same
# pages; then the TEDS of the PubTabNet examples. Figures go to
# docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
EVAL=${EVAL:-../shared/eval}
export OMP_THREAD_LIMIT=1
source bench/lib.sh # build_lector, eval_pages, measure
build_lector
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ocr" "$work/structure"
n=$(eval_pages "$work/pages" 2)
cores=$(nproc --all)

echo "# $cores cores, $n pages"
measure "lector ocr (ocr)" "$n" bin/lector ocr --format txt --jobs "$cores" -o "$work/ocr" "$work"/pages/*.png
measure "lector ocr (structure)" "$n" bin/lector ocr --pipeline structure --format md --jobs "$cores" -o "$work/structure" "$work"/pages/*.png
bin/lector eval tables "$EVAL/tables" "$EVAL/tables-icdar13"
