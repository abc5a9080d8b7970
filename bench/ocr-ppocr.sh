#!/usr/bin/env bash
# Speed of ppocr:v4 on the CPU against its nearest peer and against
# Tesseract, on the same images in one run. Two sets, each read by:
#
#   lector   `lector ocr --model ppocr:v4` (default: one lane per core, each
#            runner slot's ONNX Runtime runs with cores/lanes intra-op
#            threads, so one thread each here)
#   node     @gutenye/ocr-node (PaddleOCR's PP-OCR on onnxruntime-node), one
#            process reading one image after another with Lector's model
#            files (det.onnx, rec.onnx, keys.txt; it has no classifier) and
#            as many intra-op threads as cores (bench/ppocr-node-peer.mjs);
#            and as one process per core with one thread each
#   tess     the tesseract command, one process per core in parallel,
#            OMP_THREAD_LIMIT=1 (eng for pages, eng+chi_sim for scene)
#
# Sets: "pages" (linn.png and the three evaluation PDFs' first pages at
# 300 DPI, REPEATS times over; default 1) and "scene" (the whole images of
# ../shared/eval/scene/images). For each run: pages/s and the peak RSS of
# the whole process tree; then how close Lector's text is to the peer's
# (CER of Lector's text against the Node peer's, per image and pooled,
# and the share of the peer's words Lector lacks in any order).
#
# The peer is installed from npm (scripts off: onnxruntime-node's install
# script only fetches CUDA parts; its CPU library ships in the package)
# into $LECTOR_DEPS_CACHE/bench/node (default ~/.cache/lector/bench/node).
#
#   bench/ocr-ppocr.sh [REPEATS]
#   ONLY=lector bench/ocr-ppocr.sh     # Lector's runs only (while tuning)
#   LECTOR_ARGS='--cpu-lanes 1' …      # extra flags for lector ocr
set -euo pipefail
cd "$(dirname "$0")/.."
EVAL=${EVAL:-../shared/eval}
source bench/lib.sh # build_lector, eval_pages, measure
build_lector
scripts/onnxruntime.sh >/dev/null
cache=${LECTOR_DEPS_CACHE:-$HOME/.cache/lector}
models=${LECTOR_PPOCR_DIR:-$cache/ppocr}/v4
peer=$cache/bench/node
peer_version=1.4.8
if [ "${ONLY:-}" != lector ] && [ ! -f "$peer/node_modules/@gutenye/ocr-node/package.json" ]; then
  mkdir -p "$peer"
  [ -f "$peer/package.json" ] || echo '{"name":"lector-bench-peer","private":true}' >"$peer/package.json"
  (cd "$peer" && npm install --ignore-scripts --no-audit --no-fund "@gutenye/ocr-node@$peer_version" >/dev/null)
fi
go build -o bin/textdiff ./bench/textdiff
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cores=$(nproc --all)
# The tesseract command: the system's, else Lector's own build (make setup)
# with Debian's traineddata.
tess=$(command -v tesseract || ls "$cache"/tesseract-*/bin/tesseract | head -1)
export TESSDATA_PREFIX=${TESSDATA_PREFIX:-/usr/share/tesseract-ocr/5/tessdata}

mkdir -p "$work/scene"
for f in "$EVAL"/scene/images/*.{png,jpg,jpeg}; do [ -f "$f" ] && cp "$f" "$work/scene/"; done
np=$(eval_pages "$work/pages" "${1:-1}")
ns=$(ls "$work/scene" | wc -l)
# Truth for the first copy of each set: the PDFs' first pages' text layers
# (pdftotext -layout; tables, so read the words-missed figure, not CER) and
# linn.txt in eval_pages's order; scene/README.md's NAME.txt.
mkdir -p "$work/pages-truth" "$work/scene-truth"
i=0
for pdf in "$EVAL"/pdfs/*.pdf; do pdftotext -f 1 -l 1 -layout "$pdf" "$work/pages-truth/p$(printf %02d $i).txt"; i=$((i+1)); done
cp "$EVAL/pages/linn.txt" "$work/pages-truth/p$(printf %02d $i).txt"
for f in "$work"/scene/*; do b=${f##*/}; cp "$EVAL/scene/images/${b%.*}.txt" "$work/scene-truth/"; done

for set in pages scene; do
  n=$np; langs=eng
  [ $set = scene ] && n=$ns && langs=eng+chi_sim
  files=("$work/$set"/*)
  mkdir -p "$work/$set-lector" "$work/$set-node" "$work/$set-tess"
  measure "$set: lector ppocr:v4" "$n" bin/lector ocr --model ppocr:v4 --format txt --jobs "$cores" ${LECTOR_ARGS:-} -o "$work/$set-lector" "${files[@]}"
  [ "${ONLY:-}" = lector ] && continue
  measure "$set: node peer, $cores threads" "$n" node bench/ppocr-node-peer.mjs "$peer" "$models" "$cores" "$work/$set-node" "${files[@]}"
  # The peer as a user would scale it to the cores: one process per core,
  # one thread each, the images dealt out in turn.
  mkdir -p "$work/$set-nodep"
  measure "$set: node peer, $cores procs x 1 thread" "$n" bash -c '
    peer=$1 models=$2 out=$3 cores=$4; shift 4
    for ((k = 0; k < cores; k++)); do
      part=(); i=0
      for f in "$@"; do [ $((i % cores)) = $k ] && part+=("$f"); i=$((i+1)); done
      [ ${#part[@]} -gt 0 ] && node bench/ppocr-node-peer.mjs "$peer" "$models" 1 "$out" "${part[@]}" &
    done
    wait' _ "$peer" "$models" "$work/$set-nodep" "$cores" "${files[@]}"
  measure "$set: tesseract $langs x$cores" "$n" bash -c "printf '%s\n' \"\$@\" | OMP_THREAD_LIMIT=1 xargs -P $cores -I{} sh -c 'f={}; b=\${f##*/}; $tess \$f $work/$set-tess/\${b%.*} -l $langs >/dev/null 2>&1'" _ "${files[@]}"
  for r in lector node tess; do
    echo "$set: $r against the truth (CER, truth's words missed in any order)"
    bin/textdiff "$work/$set-truth" "$work/$set-$r" | sed 's/^/  /'
  done
  echo "$set: Lector's text against the Node peer's (CER, peer's words Lector lacks)"
  bin/textdiff "$work/$set-node" "$work/$set-lector" | sed 's/^/  /'
  [ -n "${KEEP:-}" ] && cp -r "$work/$set-lector" "$work/$set-node" "$work/$set-tess" "$KEEP/"
done
