#!/usr/bin/env bash
# Admission's calibration: for each pipeline and engine, tasks on files of
# every evaluation set (up to N=6 a set, taken in turn from each set so the
# sizes mix), run one at a time on a fresh `lector serve`; for each task the
# estimate it was admitted with against the peak it used (both from its
# resources: the runner's load when the task loaded it, plus the pages'
# working set). Prints per pipeline and engine the median ratio
# estimate/peak, the worst under- and over-estimate, the same after the
# first 5 tasks (what the fit has learned by then), and how many tasks.
# Usage: bench/calibrate.sh [BINARY]
# COMBOS="ocr:ppocr:v4 ..." runs only those (PIPELINE:MODEL); default all four.
# SUMMARIZE=FILE.tsv bench/calibrate.sh - prints the summary of a kept run.
# FILES="pdfs/x.pdf pdfs/x.pdf ..." runs those files (relative to EVAL, in
# that order, repeats allowed: the same page again measures the noise).
set -euo pipefail
cd "$(dirname "$0")/.."
EVAL=${EVAL:-../shared/eval}
N=${N:-6}
export OMP_THREAD_LIMIT=1
source bench/lib.sh
bin=${1:-}
if [ -z "$bin" ]; then build_lector; bin=bin/lector; fi
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

files=()
for f in ${FILES:-}; do files+=("$EVAL/$f"); done
sets=(lines pages tables tables-icdar13 scene/crops scene/images pdfs)
[ -n "${FILES:-}" ] || for i in $(seq 0 $((N - 1))); do
  for s in "${sets[@]}"; do
    f=$(find "$EVAL/$s" -maxdepth 1 -type f \( -name '*.png' -o -name '*.jpg' -o -name '*.jpeg' -o -name '*.pdf' \) | sort | sed -n "$((i + 1))p")
    [ -n "$f" ] && files+=("$f")
  done
done

run_combo() { # PIPELINE MODEL
  local pipeline=$1 model=$2 port=$((20000 + RANDOM % 20000))
  local base=http://127.0.0.1:$port out="$work/$pipeline-${model//[:\/]/_}.tsv"
  rm -rf "$work/data"
  "$bin" serve --listen 127.0.0.1:$port --data-dir "$work/data" >/dev/null 2>"$work/log" &
  pid=$!
  until curl -fs "$base/readyz" >/dev/null 2>&1; do sleep 0.2; done
  : >"$out"
  for f in "${files[@]}"; do
    # pdf_text=force: a born-digital PDF's pages are rendered and read too
    # (read from their text, they would use no model memory at all).
    id=$(curl -fs -F file=@"$f" -F pipeline="$pipeline" -F model="$model" -F formats=json -F pdf_text=force "$base/v1/tasks" | jq -r .id) || continue
    while :; do
      t=$(curl -fs "$base/v1/tasks/$id")
      case $(jq -r .status <<<"$t") in succeeded | failed | canceled) break ;; esac
      sleep 0.2
    done
    jq -r --arg f "${f#"$EVAL"/}" '[$f, .status, .pages.total, .resources.estimated_bytes // 0, .resources.peak_bytes // 0] | @tsv' <<<"$t" >>"$out"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  for min in 1 4194304 16777216; do summarize "$pipeline $model" "$min" "$out"; done
  cp "$out" "${CALIBRATE_OUT:-/tmp}/" 2>/dev/null || true
  # The server's log: each task's "task resources" line holds what the
  # learner observed (work megapixels, pages at once, working set, load),
  # for replaying fits offline (go run ./bench/replay).
  cp "$work/log" "${CALIBRATE_OUT:-/tmp}/$(basename "$out" .tsv).log" 2>/dev/null || true
}

# summarize NAME MIN FILE: the ratios of the tasks whose peak was at least
# MIN bytes (a page whose working set is a few KiB makes a ratio that says
# nothing about memory; one of a few MiB, an error of a few MiB).
summarize() {
  awk -F'\t' -v name="$1" -v min="$2" '
    $2 == "succeeded" && $5 >= min { n++; r[n] = $4 / $5 }
    function stats(from,   i, j, k, v, a, m) {
      k = 0; for (i = from; i <= n; i++) a[++k] = r[i]
      if (k == 0) return "-"
      for (i = 2; i <= k; i++) { v = a[i]; for (j = i - 1; j >= 1 && a[j] > v; j--) a[j + 1] = a[j]; a[j + 1] = v }
      m = (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
      return sprintf("median %.2f, lowest %.2f, highest %.2f (%d tasks)", m, a[1], a[k], k)
    }
    END { printf "%-34s peak %s, all: %s\n%-34s after 5: %s\n", name, (min >= 1048576 ? ">= " int(min / 1048576) " MiB" : "> 0"), stats(1), "", stats(6) }' "$3"
}

if [ -n "${SUMMARIZE:-}" ]; then # SUMMARIZE=FILE.tsv: the summary of a kept run
  for min in 1 4194304 16777216; do summarize "$(basename "$SUMMARIZE" .tsv)" "$min" "$SUMMARIZE"; done
  exit 0
fi
echo "# ${#files[@]} files a pipeline, one task at a time"
for c in ${COMBOS:-ocr:tesseract:eng ocr:ppocr:v4 structure:structure:default structure:structure:ppocr}; do
  run_combo "${c%%:*}" "${c#*:}"
done
