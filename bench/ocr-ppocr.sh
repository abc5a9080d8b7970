#!/usr/bin/env bash
# OCRs the same pages with ppocr:v4 and tesseract:eng through `lector ocr`
# on this machine, in one run, and prints pages per second and the peak RSS
# of the whole process tree for each: ppocr with one lane per core (each
# runner slot's ONNX Runtime runs get cores/lanes intra-op threads, so one
# thread each) and with one lane (one slot, every core's thread in its
# runs). The pages: linn.png and the three evaluation PDFs' first pages at
# 300 DPI, REPEATS times over (default 2).
#
#   bench/ocr-ppocr.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
EVAL=${EVAL:-../shared/eval}
source bench/lib.sh # build_lector, eval_pages, measure
build_lector
scripts/onnxruntime.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=$(eval_pages "$work/pages" "${1:-2}")
cores=$(nproc --all)
mkdir -p "$work/o1" "$work/o2" "$work/o3"
measure "ppocr:v4, $cores lanes x 1 thread" "$n" bin/lector ocr --model ppocr:v4 --format txt --jobs "$cores" -o "$work/o1" "$work"/pages/*.png
measure "ppocr:v4, 1 lane x $cores threads" "$n" bin/lector ocr --model ppocr:v4 --cpu-lanes 1 --format txt --jobs "$cores" -o "$work/o2" "$work"/pages/*.png
measure "tesseract:eng, $cores lanes" "$n" bin/lector ocr --model tesseract:eng --format txt --jobs "$cores" -o "$work/o3" "$work"/pages/*.png
