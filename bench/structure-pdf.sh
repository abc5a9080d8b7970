#!/usr/bin/env bash
# The structure pipeline on the born-digital PDFs of ../shared/eval/pdfs,
# each page OCR'd (--pdf-text force) and read from its own text (skip, the
# default): its text (--format txt: a table a row per line, cells separated
# by tabs) against the PDF's own (pdftotext -layout), as the character error
# rate and the share of words missed in any order (bench/textdiff), and
# seconds per page with the peak memory of the process tree (one file at a
# time). Figures go to docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
EVAL=${EVAL:-../shared/eval}
export OMP_THREAD_LIMIT=1
source bench/lib.sh # build_lector, measure
build_lector
go build -o bin/textdiff ./bench/textdiff
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/truth"
n=0
for pdf in "$EVAL"/pdfs/*.pdf; do
  pdftotext -layout "$pdf" "$work/truth/$(basename "$pdf" .pdf).txt"
  n=$((n + $(pdfinfo "$pdf" | awk '/^Pages:/ {print $2}')))
done
for mode in ${MODES:-force skip}; do
  mkdir -p "$work/$mode"
  measure "structure --pdf-text $mode" "$n" bin/lector ocr --pipeline structure --pdf-text "$mode" --format txt --jobs 1 -o "$work/$mode/" "$EVAL"/pdfs/*.pdf
  bin/textdiff "$work/truth" "$work/$mode"
done
