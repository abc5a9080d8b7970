# Shared by the bench scripts (sourced from the project root).

# build_lector builds bin/lector with cgo flags for this machine, linked with
# Lector's Tesseract build (scripts/tesseract.sh; SYSTEM_TESSERACT=1 links
# Debian's library instead).
build_lector() {
  export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g -Wno-deprecated-declarations}"
  if [ -z "${SYSTEM_TESSERACT:-}" ]; then
    scripts/tesseract.sh
    export CGO_LDFLAGS="$(scripts/tesseract.sh --ldflags) ${CGO_LDFLAGS:-}"
  fi
  go build -o bin/lector ./cmd/lector
}

# eval_pages DIR REPEATS renders the evaluation PDFs at 300 DPI and adds
# pages/linn.png, then copies the set REPEATS times into DIR as
# p00.png, p01.png, …; it prints the page count.
eval_pages() {
  local dir=$1 repeats=$2 src i=0 n=0
  src=$(mktemp -d)
  for pdf in "${EVAL:-../shared/eval}"/pdfs/*.pdf; do
    pdftoppm -r 300 -gray -png -singlefile "$pdf" "$src/src$i"; i=$((i+1))
  done
  cp "${EVAL:-../shared/eval}/pages/linn.png" "$src/src$i.png"
  mkdir -p "$dir"
  for _ in $(seq "$repeats"); do
    for f in "$src"/src*.png; do cp "$f" "$dir/p$(printf %02d $n).png"; n=$((n+1)); done
  done
  rm -rf "$src"
  echo "$n"
}

# measure NAME PAGES COMMAND… runs COMMAND in its own session and prints
# its wall time, pages per second and the peak RSS of its whole process tree
# (sampled every 50 ms).
measure() {
  local name=$1 pages=$2; shift 2
  local start end peak=0
  start=$(date +%s.%N)
  setsid "$@" >/dev/null 2>&1 &
  local pid=$!
  while kill -0 $pid 2>/dev/null; do
    local rss
    rss=$(ps -o rss= -s $pid 2>/dev/null | awk '{s+=$1} END {print s+0}') || rss=0 # ps fails once the session is gone
    [ "$rss" -gt "$peak" ] && peak=$rss
    sleep 0.05
  done
  wait $pid || true
  end=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'{sys.argv[3]:<34} pages={sys.argv[4]} seconds={s:6.2f} pages_per_second={int(sys.argv[4])/s:5.2f} peak_tree_rss_mib={int(sys.argv[5])/1024:6.0f}')" "$start" "$end" "$name" "$pages" "$peak"
}
