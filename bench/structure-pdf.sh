#!/usr/bin/env bash
# The structure pipeline on the born-digital PDFs of ../shared/eval/pdfs,
# each page OCR'd (--pdf-text force) and read from its own text (skip, the
# default): its text (--format txt: a table a row per line, cells separated
# by tabs) against the PDF's own (pdftotext -layout), as the character error
# rate and the share of words missed in any order (bench/textdiff), and
# seconds per page with the peak memory of the process tree (one file at a
# time), and CPU seconds per page (user + system of the whole tree: on a
# shared machine the wall time says more about the neighbours). Figures go
# to docs/BENCHMARKS.md.
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
# cpu_seconds COMMAND… runs COMMAND and prints the CPU seconds (user +
# system) of it and every process it waited for (its runners).
cpu_seconds() {
  python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{r.ru_utime + r.ru_stime:.2f}")' "$@"
}
model=${MODEL:-structure:default}
for mode in ${MODES:-force skip}; do
  mkdir -p "$work/$mode"
  cmd=(bin/lector ocr --pipeline structure --model "$model" --pdf-text "$mode" --format txt --jobs 1 -o "$work/$mode/" "$EVAL"/pdfs/*.pdf)
  measure "$model --pdf-text $mode" "$n" "${cmd[@]}"
  s=$(cpu_seconds "${cmd[@]}")
  python3 -c "import sys; print(f'cpu_seconds={float(sys.argv[1]):.2f} cpu_seconds_per_page={float(sys.argv[1])/int(sys.argv[2]):.2f}')" "$s" "$n"
  bin/textdiff "$work/truth" "$work/$mode"
done
