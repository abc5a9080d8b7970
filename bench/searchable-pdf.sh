#!/usr/bin/env bash
# Searchable PDFs side by side, in one run: `lector ocr IN -o OUT.pdf` and
# `ocrmypdf --output-type pdf` (Debian's package; plain PDF so that PDF/A
# conversion does not weigh) on the same four inputs:
#   scan-jpeg.pdf  9 pages scanned at 300 dpi, JPEG (gray, quality 75)
#   scan-g4.pdf    the same 9 pages as CCITT G4 (bilevel, fax-like)
#   born.pdf       the three born-digital evaluation PDFs joined (3 pages)
#   mixed.pdf      born.pdf's 3 pages, then 3 scanned pages
# The pages: ../shared/eval's linn.png (a 300-dpi scan) and the evaluation
# PDFs rendered at 300 dpi (JPEG: pdftoppm → bench/imgpdf; G4: pdftoppm
# -mono → tiffcp -c g4 → tiff2pdf, which passes the G4 data through; qpdf
# joins the pages). For each run: wall time, CPU time
# (user + system of the whole process tree, /usr/bin/time), peak RSS of the
# process tree (sampled every 50 ms), output size over input size, and the
# text pdftotext gets from the output against the truth (bench/textdiff: CER
# and words missed in any order; the truth is linn.txt and the evaluation
# PDFs' own text). And the parallel `tesseract` command on the scan's pages
# rendered as PGM, for pages per second on scan-like pages, then both back
# to back ROUNDS times (default 3), each round with the load average.
#
#   apt-get install ocrmypdf   # once: the peer (brings the tesseract command)
#   bench/searchable-pdf.sh
set -euo pipefail
cd "$(dirname "$0")/.."
EVAL=${EVAL:-../shared/eval}
source bench/lib.sh # build_lector
for tool in ocrmypdf tesseract tiff2pdf tiffcp pdftoppm qpdf; do
  command -v $tool >/dev/null || { echo "needs $tool (apt-get install ocrmypdf libtiff-tools poppler-utils qpdf)" >&2; exit 1; }
done
build_lector
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cores=$(nproc --all)
mkdir -p "$work/src" "$work/want" "$work/lector" "$work/ocrmypdf" "$work/pgm" "$work/tess"

# The source pages and their truth.
bin/lector ocr "$EVAL/pages/linn.png" -o "$work/src/linn.pdf" >/dev/null
cp "$EVAL/pages/linn.txt" "$work/src/linn.txt"
for n in background-checks san-jose-pd-firearm-sample ag-energy-round-up-2017-02-24; do
  cp "$EVAL/pdfs/$n.pdf" "$work/src/$n.pdf"
  pdftotext -layout "$work/src/$n.pdf" "$work/src/$n.txt"
done
order="linn background-checks san-jose-pd-firearm-sample ag-energy-round-up-2017-02-24 linn background-checks san-jose-pd-firearm-sample ag-energy-round-up-2017-02-24 linn"
go build -o "$work/imgpdf" ./bench/imgpdf
jpegs=() g4s=() i=0
: >"$work/want/scan-jpeg.txt"
for n in $order; do
  pdftoppm -r 300 -gray -png -singlefile "$work/src/$n.pdf" "$work/src/j$i"
  "$work/imgpdf" -dpi 300 -quality 75 "$work/src/j$i.pdf" "$work/src/j$i.png"
  pdftoppm -r 300 -mono -tiff -singlefile "$work/src/$n.pdf" "$work/src/m$i"
  tiffcp -c g4 "$work/src/m$i.tif" "$work/src/g$i.tif"
  tiff2pdf -o "$work/src/g$i.pdf" "$work/src/g$i.tif"
  jpegs+=("$work/src/j$i.pdf") g4s+=("$work/src/g$i.pdf")
  cat "$work/src/$n.txt" >>"$work/want/scan-jpeg.txt"
  i=$((i + 1))
done
qpdf --empty --pages "${jpegs[@]}" -- "$work/scan-jpeg.pdf"
qpdf --empty --pages "${g4s[@]}" -- "$work/scan-g4.pdf"
for f in scan-jpeg scan-g4; do qpdf --check "$work/$f.pdf" >/dev/null; done
cp "$work/want/scan-jpeg.txt" "$work/want/scan-g4.txt"
qpdf --empty --pages "$work"/src/background-checks.pdf "$work"/src/san-jose-pd-firearm-sample.pdf "$work"/src/ag-energy-round-up-2017-02-24.pdf -- "$work/born.pdf"
cat "$work"/src/background-checks.txt "$work"/src/san-jose-pd-firearm-sample.txt "$work"/src/ag-energy-round-up-2017-02-24.txt >"$work/want/born.txt"
qpdf --empty --pages "$work/born.pdf" "$work/scan-jpeg.pdf" 1-3 -- "$work/mixed.pdf"
cat "$work/want/born.txt" "$work"/src/linn.txt "$work"/src/background-checks.txt "$work"/src/san-jose-pd-firearm-sample.txt >"$work/want/mixed.txt"

# run NAME INPUT OUTPUT COMMAND…: one line of figures.
run() {
  local name=$1 in=$2 out=$3; shift 3
  local t=$work/time.$$ peak=0 start end
  start=$(date +%s.%N)
  setsid /usr/bin/time -f "%U %S" -o "$t" "$@" >/dev/null 2>&1 &
  local pid=$!
  while kill -0 $pid 2>/dev/null; do
    local rss
    rss=$(ps -o rss= -s $pid 2>/dev/null | awk '{s+=$1} END {print s+0}') || rss=0
    [ "$rss" -gt "$peak" ] && peak=$rss
    sleep 0.05
  done
  wait $pid || echo "$name: exit status $?" >&2
  end=$(date +%s.%N)
  local pages insize outsize
  pages=$(pdfinfo "$in" | awk '/^Pages:/ {print $2}')
  insize=$(stat -c %s "$in")
  outsize=$(stat -c %s "$out" 2>/dev/null || echo 0)
  python3 -c '
import sys
name, start, end, pages, peak, ins, outs, t, load = sys.argv[1:10]
u, s = map(float, open(t).read().split()[-2:])
wall = float(end) - float(start)
print(f"{name:<34} load={load} pages={pages} wall_s={wall:6.2f} cpu_s={u+s:6.2f} pages_per_s={int(pages)/wall:5.2f} peak_tree_rss_mib={int(peak)/1024:5.0f} in_kib={int(ins)/1024:6.0f} out_kib={int(outs)/1024:6.0f} out_over_in={int(outs)/int(ins):5.2f}")
' "$name" "$start" "$end" "$pages" "$peak" "$insize" "$outsize" "$t" "$(cut -d' ' -f1 /proc/loadavg)"
}

for doc in scan-jpeg scan-g4 born mixed; do
  in=$work/$doc.pdf
  run "lector $doc" "$in" "$work/lector/$doc.pdf" bin/lector ocr "$in" -o "$work/lector/$doc.pdf"
  case $doc in
  born) run "ocrmypdf --force-ocr $doc" "$in" "$work/ocrmypdf/$doc.pdf" ocrmypdf --output-type pdf -j "$cores" --force-ocr "$in" "$work/ocrmypdf/$doc.pdf" ;;
  mixed) run "ocrmypdf --skip-text $doc" "$in" "$work/ocrmypdf/$doc.pdf" ocrmypdf --output-type pdf -j "$cores" --skip-text "$in" "$work/ocrmypdf/$doc.pdf" ;;
  *) run "ocrmypdf $doc" "$in" "$work/ocrmypdf/$doc.pdf" ocrmypdf --output-type pdf -j "$cores" "$in" "$work/ocrmypdf/$doc.pdf" ;;
  esac
  # -layout, as the truth was extracted: CER then compares like with like.
  pdftotext -layout "$work/lector/$doc.pdf" "$work/lector/$doc.txt" || true
  pdftotext -layout "$work/ocrmypdf/$doc.pdf" "$work/ocrmypdf/$doc.txt" || true
done
# The scan's pages as the tesseract command gets them (rendering not timed).
pdftoppm -r 300 -gray "$work/scan-jpeg.pdf" "$work/pgm/p"
start=$(date +%s.%N)
/usr/bin/time -f "%U %S" -o "$work/tess.time" bash -c "ls $work/pgm/*.pgm | OMP_THREAD_LIMIT=1 xargs -P $cores -I{} sh -c 'tesseract {} $work/tess/\$(basename {} .pgm) >/dev/null 2>&1'"
end=$(date +%s.%N)
python3 -c '
import sys
u, s = map(float, open(sys.argv[3]).read().split()[-2:])
wall = float(sys.argv[2]) - float(sys.argv[1])
print(f"{sys.argv[4]:<34} pages=9 wall_s={wall:6.2f} cpu_s={u+s:6.2f} pages_per_s={9/wall:5.2f} (pages pre-rendered as PGM)")
' "$start" "$end" "$work/tess.time" "tesseract, $cores processes (OMP=1)"
# Pages per second against the parallel tesseract command, back to back
# (the machine may be shared: each round says its load average).
for r in $(seq "${ROUNDS:-3}"); do
  l0=$(cut -d' ' -f1 /proc/loadavg)
  start=$(date +%s.%N)
  bin/lector ocr "$work/scan-jpeg.pdf" -o "$work/lector/round.pdf" >/dev/null 2>&1
  mid=$(date +%s.%N)
  ls "$work"/pgm/*.pgm | OMP_THREAD_LIMIT=1 xargs -P "$cores" -I{} sh -c "tesseract {} $work/tess/\$(basename {} .pgm) >/dev/null 2>&1"
  end=$(date +%s.%N)
  python3 -c '
import sys
s, m, e = map(float, sys.argv[1:4])
print(f"round {sys.argv[4]} (load {sys.argv[5]}-{sys.argv[6]}): lector {m-s:6.2f} s, tesseract {e-m:6.2f} s: lector pages/s over the command {(e-m)/(m-s):4.2f}x")
' "$start" "$mid" "$end" "$r" "$l0" "$(cut -d' ' -f1 /proc/loadavg)"
done
echo "text against the truth (lector):"
go run ./bench/textdiff "$work/want" "$work/lector"
echo "text against the truth (ocrmypdf):"
go run ./bench/textdiff "$work/want" "$work/ocrmypdf"
