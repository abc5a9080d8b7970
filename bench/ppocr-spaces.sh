#!/usr/bin/env bash
# Generates the synthetic paragraphs on which ppocr's word breaks are
# measured (docs/BENCHMARKS.md, "PP-OCR", "Spaces in tight, blurred or
# faint English lines"): ImageMagick caption: paragraphs on a 660-px
# canvas, each with its truth in NAME.gt.txt, over fonts × sizes × blur ×
# contrast. Then reads them with
#   PPOCR_SPACES=DIR go test -run TestSpacesSynthetic -v ./internal/engine/ppocr/
# Usage: bench/ppocr-spaces.sh DIR
set -euo pipefail
out=${1:?usage: $0 DIR}
mkdir -p "$out"
texts=(
  "Sales grew in every region this quarter, led by strong demand for our new products and steady growth in services."
  "Please send the signed contract to our office before the end of the month so that the work can begin on time."
  "The committee will meet on Tuesday to review the budget and decide which of the proposed projects to fund next year."
  "All visitors must sign in at the front desk and wear their badge at all times while they are in the building."
  "Our records show that the invoice was paid in full on the third of June, and no further amount is due from you."
  "The new system reads printed pages and photos of text, and returns the words with their positions on the page."
)
fonts=(
  /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
  /usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf
  /usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf
  /usr/share/fonts/opentype/urw-base35/NimbusRoman-Regular.otf
  /usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf
  /usr/share/fonts/opentype/urw-base35/C059-Roman.otf
)
i=0
for f in "${!fonts[@]}"; do
  for size in 18 22 26; do
    for blur in 0 1; do
      for ink in 0 150; do
        t=${texts[$(( i % ${#texts[@]} ))]}
        name=$(printf 'p%03d-f%d-s%d-b%d-i%d' "$i" "$f" "$size" "$blur" "$ink")
        args=(-background white -fill "rgb($ink,$ink,$ink)" -font "${fonts[$f]}" -pointsize "$size" -size 620x caption:"$t" -bordercolor white -border 20)
        if [ "$blur" = 1 ]; then args+=(-blur 0x1); fi
        convert "${args[@]}" -colorspace Gray -depth 8 "$out/$name.png"
        printf '%s\n' "$t" > "$out/$name.gt.txt"
        i=$((i + 1))
      done
    done
  done
done
# Commas before capitals and names (issue #14: "Oslo,Bergen"), in every
# font at 18 and 22 px, sharp, black: 12 more paragraphs.
commas=(
  "Customers in Oslo, Bergen and Trondheim ordered more units, and Paris, Lyon and Nice followed in May."
  "The report, signed by Anna, Peter and Maria, went to London, Dublin and Madrid on Friday, June the third."
)
for f in "${!fonts[@]}"; do
  for size in 18 22; do
    t=${commas[$(( i % ${#commas[@]} ))]}
    name=$(printf 'p%03d-f%d-s%d-b0-i0-comma' "$i" "$f" "$size")
    convert -background white -fill black -font "${fonts[$f]}" -pointsize "$size" -size 620x caption:"$t" \
      -bordercolor white -border 20 -colorspace Gray -depth 8 "$out/$name.png"
    printf '%s\n' "$t" > "$out/$name.gt.txt"
    i=$((i + 1))
  done
done
echo "$i paragraphs in $out"
