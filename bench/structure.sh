#!/usr/bin/env bash
# The structure pipeline on the evaluation pages (linn.png and the three
# PDFs' pages rendered at 300 DPI, each twice): pages per second and peak
# memory of the whole process tree, beside the OCR pipeline on the same
# pages; then the TEDS of the PubTabNet examples. Figures go to
# docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
EVAL=${EVAL:-../shared/eval}
export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g -Wno-deprecated-declarations}"
export OMP_THREAD_LIMIT=1
scripts/tesseract.sh # Lector's Tesseract build; SYSTEM_TESSERACT=1 links Debian's library instead
[ -n "${SYSTEM_TESSERACT:-}" ] || export CGO_LDFLAGS="$(scripts/tesseract.sh --ldflags) ${CGO_LDFLAGS:-}"
go build -o bin/lector ./cmd/lector
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/pages" "$work/ocr" "$work/structure"
i=0
for pdf in "$EVAL"/pdfs/*.pdf; do
  pdftoppm -r 300 -gray -png -singlefile "$pdf" "$work/src$i"; i=$((i+1))
done
cp "$EVAL/pages/linn.png" "$work/src$i.png"
n=0
for rep in 1 2; do
  for f in "$work"/src*.png; do cp "$f" "$work/pages/p$(printf %02d $n).png"; n=$((n+1)); done
done
cores=$(nproc --all)

source "$(dirname "$0")/lib.sh"

echo "# $cores cores, $n pages"
measure "lector ocr (ocr)" "$n" bin/lector ocr --format txt --jobs "$cores" -o "$work/ocr" "$work"/pages/*.png
measure "lector ocr (structure)" "$n" bin/lector ocr --pipeline structure --format md --jobs "$cores" -o "$work/structure" "$work"/pages/*.png
bin/lector eval tables "$EVAL/tables"
