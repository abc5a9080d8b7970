#!/usr/bin/env bash
# bench/gpu-check.sh — Lector's GPU runtime on a real NVIDIA GPU, as one
# prepared run that prints figures (docs/BENCHMARKS.md keeps them).
#
#   bench/gpu-check.sh --pack   here, where Go and the registries are: builds
#                               lector, a benchmark binary and textdiff into
#                               bench/gpu/ with what the GPU machine may lack
#                               (the shared libraries lector links beyond
#                               glibc, English traineddata, ONNX Runtime with
#                               its CUDA provider and the PP-OCR models, a few
#                               evaluation pages), then cuts it into gzip'd
#                               parts of at most 56 MiB in bench/gpu-parts/
#                               (one machine call carries 64 MiB at most).
#   bench/gpu-check.sh --receive
#                               there, once per part, the part carried in
#                               that call: keeps it in /tmp/lector-gpu-parts
#                               (files stay while the machine is warm).
#   bench/gpu-check.sh --unpack there, after the last part: bench/gpu/ again.
#   bench/gpu-check.sh          there: the checks below, in under 8 minutes;
#                               exit 1 when one fails.
#
# Checks (GPU 0, sizes as fractions of its memory so any NVIDIA GPU will do):
#   1. the devices `lector system` sees;
#   2. a synthetic model loaded on cuda:0 shows in NVML (nvidia-smi) and in
#      `lector ps`; after unload NVML's used memory is back within 10 MiB of
#      the baseline;
#   3. two synthetic tasks whose GPU demand together crosses the critical
#      line: one runs on the GPU, the other falls back to the CPU (recorded),
#      nothing is killed;
#   4. an idle GPU instance is evicted for a task that needs its room;
#   5. device=auto sends Tesseract to the CPU;
#   6. what one NVML per-process read costs (the GPU peak's sampling);
#   7. ppocr:v4 on cuda:0 against the CPU on the same pages: pages/s, the
#      task's GPU memory from NVML, the GPU's memory back after the runner
#      exits, and the text's difference (CER ≤ 0.002 expected). The CUDA
#      provider needs CUDA 13 and cuDNN 9 user libraries: a Python
#      environment's nvidia-* packages are put on the loader's path.
set -uo pipefail
cd "$(dirname "$0")/.."
PACK=bench/gpu

PARTS=bench/gpu-parts
case "${1:-}" in
--pack)
  set -e
  . bench/lib.sh
  build_lector
  rm -rf "$PACK" "$PARTS"
  mkdir -p "$PACK/lib" "$PACK/tessdata" "$PACK/pages" "$PARTS"
  cp bin/lector "$PACK/lector"
  go test -c -o "$PACK/memory.test" ./internal/memory
  go build -o "$PACK/textdiff" ./bench/textdiff
  ldd bin/lector | awk '/=> \// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*) ;;
      *) cp -L "$lib" "$PACK/lib/" ;;
    esac
  done
  cp /usr/share/tesseract-ocr/5/tessdata/eng.traineddata "$PACK/tessdata/"
  scripts/onnxruntime.sh --gpu
  cp -rL "$(scripts/onnxruntime.sh --dir)" "$PACK/ppocr"
  cp "${EVAL:-../shared/eval}"/pages/linn.png "${EVAL:-../shared/eval}"/scene/images/*.{png,jpg} "$PACK/pages/" 2>/dev/null || true
  tar -C "$PACK" -cf - . | gzip -6 | split -b 56M - "$PARTS/part-"
  du -sh "$PACK" "$PARTS"/*
  echo "carry one part per call: bench/gpu-check.sh --receive (carry $PARTS/part-XX); then --unpack and the run"
  exit 0 ;;
--receive)
  mkdir -p /tmp/lector-gpu-parts && cp "$PARTS"/part-* /tmp/lector-gpu-parts/ && ls -la /tmp/lector-gpu-parts
  exit $? ;;
--unpack)
  mkdir -p "$PACK" && cat /tmp/lector-gpu-parts/part-* | gunzip | tar -C "$PACK" -xf - && du -sh "$PACK"
  exit $? ;;
esac

LECTOR=${LECTOR:-bin/lector}
[ -x "$PACK/lector" ] && LECTOR=$PACK/lector
[ -d "$PACK/lib" ] && export LD_LIBRARY_PATH="$PWD/$PACK/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
[ -d "$PACK/tessdata" ] && export TESSDATA_PREFIX="$PWD/$PACK/tessdata"
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-check: no NVIDIA GPU here (nvidia-smi finds none); nothing to check" >&2
  exit 1
fi
[ -x "$LECTOR" ] || { echo "gpu-check: $LECTOR missing: run bench/gpu-check.sh --pack where Go is, and carry bin and $PACK" >&2; exit 1; }

fail=0
check() { # check NAME CONDITION-STATUS
  if [ "$2" = 0 ]; then echo "PASS $1"; else echo "FAIL $1"; fail=1; fi
}
gpu_used() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0; }
gpu_total=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits -i 0)
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
quote() { python3 -c "import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=''))" "$1"; }
png() { # png FILE W H: a white PNG
  python3 - "$@" <<'PY'
import struct, sys, zlib
f, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
raw = b"".join(b"\x00" + b"\xff" * w for _ in range(h))
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
open(f, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
PY
}

work=$(mktemp -d)
port=18089
base="http://127.0.0.1:$port"
export LECTOR_SERVER=$base
nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv
"$LECTOR" serve --listen 127.0.0.1:$port --data-dir "$work/data" --enable-synthetic >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "$base/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
png "$work/page.png" 1000 1000 # 1 MP
submit() { # submit MODEL DEVICE → task id
  curl -sf -F file=@"$work/page.png" -F model="$1" -F device="$2" -F formats=json "$base/v1/tasks" | json 'd["id"]'
}
wait_task() { # wait_task ID → the task's JSON once final
  while :; do
    t=$(curl -sf "$base/v1/tasks/$1")
    case $(echo "$t" | json 'd["status"]') in succeeded|failed|canceled) echo "$t"; return ;; esac
    sleep 0.2
  done
}
resources() { json '(d["status"], d.get("resources", {}).get("device"), d.get("resources", {}).get("fallback"), d.get("resources", {}).get("gpu_estimated_bytes", 0)>>20, d.get("resources", {}).get("gpu_peak_bytes", 0)>>20, d.get("resources", {}).get("gpu_samples", 0), d.get("error"))'; }
mib() { echo $(( $1 * gpu_total / 100 )); }

echo "== 1. devices"
"$LECTOR" system
"$LECTOR" system --json | json '[(x["id"], x.get("uuid", "")) for x in d["devices"]]'
"$LECTOR" system --json | json 'any(x["id"]=="cuda:0" for x in d["devices"])' | grep -q True
check "lector system lists cuda:0" $?

echo "== 2. load on cuda:0, memory back after unload"
base_used=$(gpu_used)
model="synthetic:64MiB,gpu=$(mib 10)MiB"
start=$(date +%s.%N)
curl -sf -X POST -d '{"device":"cuda:0","keep_alive":"10m"}' "$base/v1/models/$(quote "$model")/load" >/dev/null
echo "load took $(python3 -c "import sys,time; print(round(time.time()-float(sys.argv[1]),2))" "$start") s"
loaded_used=$(gpu_used)
nvidia-smi --query-compute-apps=pid,used_memory --format=csv
"$LECTOR" ps
pid=$(curl -sf "$base/v1/models" | json '[x["pid"] for x in d["loaded"] if x["device"]=="cuda:0"][0]')
nvidia-smi --query-compute-apps=pid --format=csv,noheader | grep -qx "$pid"
check "runner $pid holds GPU memory in NVML" $?
curl -sf -X POST "$base/v1/models/$(quote "$model")/unload?device=cuda:0" >/dev/null
for _ in $(seq 100); do [ $(( $(gpu_used) - base_used )) -le 10 ] && break; sleep 0.2; done
after_used=$(gpu_used)
echo "GPU used MiB: baseline $base_used, loaded $loaded_used (+$((loaded_used-base_used))), after unload $after_used ($((after_used-base_used)) from baseline)"
d=$((after_used - base_used)); [ ${d#-} -le 10 ]
check "GPU memory back within 10 MiB after unload" $?

echo "== 3. two tasks crossing the critical line: one on the GPU, one falls back to the CPU"
a=$(submit "synthetic:64MiB,gpu=$(mib 55)MiB,t=15s" auto)
while [ "$(curl -sf "$base/v1/tasks/$a" | json 'd["status"]')" != running ]; do sleep 0.2; done
for _ in $(seq 100); do curl -sf "$base/v1/models" | json 'len([x for x in d["loaded"] if x["device"]=="cuda:0" and x["state"]=="ready"])' | grep -q 1 && break; sleep 0.2; done
b=$(submit "synthetic:64MiB,gpu=$(mib 56)MiB,t=1s" auto)
rb=$(wait_task "$b" | resources); ra=$(wait_task "$a" | resources)
echo "first  (status, device, fallback, gpu est MiB, gpu peak MiB, samples, error): $ra"
echo "second (status, device, fallback, gpu est MiB, gpu peak MiB, samples, error): $rb"
[[ $ra == "('succeeded', 'cuda:0', False"* && $rb == "('succeeded', 'cpu', True"* ]]
check "one task on cuda:0, the other fell back to the CPU, both succeeded" $?
crashes=$(curl -sf "$base/metrics" | awk '/^lector_model_unloads_total/ && /reason="crash"/ {s+=$2} END {print s+0}')
[ "$crashes" = 0 ]
check "no runner killed (crash unloads: $crashes)" $?

echo "== 4. an idle GPU instance evicted for a task that needs its room"
idle="synthetic:64MiB,gpu=$(mib 60)MiB"
curl -sf -X POST -d '{"device":"cuda:0","keep_alive":"10m"}' "$base/v1/models/$(quote "$idle")/load" >/dev/null
echo "idle instance loaded: GPU used $(gpu_used) MiB of $gpu_total"
c=$(submit "synthetic:64MiB,gpu=$(mib 50)MiB,t=1s" cuda:0)
rc=$(wait_task "$c" | resources)
echo "task (status, device, fallback, gpu est MiB, gpu peak MiB, samples, error): $rc"
still=$(curl -sf "$base/v1/models" | json "len([x for x in d['loaded'] if x['model']=='$idle'])")
pressure=$(curl -sf "$base/metrics" | awk '/^lector_model_unloads_total/ && /reason="pressure"/ {s+=$2} END {print s+0}')
echo "idle instance still loaded: $still; pressure unloads: $pressure"
[[ $rc == "('succeeded', 'cuda:0', False"* && $still = 0 && $pressure -ge 1 ]]
check "the idle instance was evicted and the task ran on cuda:0" $?

echo "== 5. device=auto sends Tesseract to the CPU"
png "$work/page.png" 400 200
rt=$(wait_task "$(submit tesseract:eng auto)" | resources)
echo "tesseract (status, device, fallback, ...): $rt"
[[ $rt == "('succeeded', 'cpu', False"* ]]
check "Tesseract ran on the CPU, not as a fallback" $?

echo "== 6. the cost of one NVML per-process read (GPU peak sampling, every 100 ms)"
if [ -x "$PACK/memory.test" ]; then
  "$PACK/memory.test" -test.run '^$' -test.bench NVMLProcessUsed -test.benchtime 2s
else
  echo "($PACK/memory.test missing: run --pack)"
fi

echo "== 7. ppocr:v4 on cuda:0 against the CPU, same pages"
provider=$PACK/ppocr/onnxruntime/libonnxruntime_providers_cuda.so
if [ ! -f "$provider" ] || ! ls "$PACK"/pages/* >/dev/null 2>&1; then
  echo "(no CUDA provider or pages in $PACK: run --pack with the provider installed)"
else
  kill $server 2>/dev/null; wait $server 2>/dev/null # its idle runners hold nothing now, but the GPU is the check's alone
  export LECTOR_PPOCR_DIR=$PWD/$PACK/ppocr
  nv=$(python3 -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))' 2>/dev/null)/nvidia
  for d in "$nv"/*/lib; do [ -d "$d" ] && LD_LIBRARY_PATH="$d:$LD_LIBRARY_PATH"; done
  export LD_LIBRARY_PATH
  pages=("$PACK"/pages/*)
  before=$(gpu_used)
  for dev in cpu cuda:0; do
    out="$work/ppocr-${dev/:/}"; mkdir -p "$out"
    start=$(date +%s.%N)
    "$LECTOR" ocr --model ppocr:v4 --device "$dev" --jobs 2 --format json -o "$out" "${pages[@]}" >/dev/null 2>"$work/ppocr-$dev.err" || { echo "FAIL ppocr on $dev:"; tail -3 "$work/ppocr-$dev.err"; fail=1; continue; }
    end=$(date +%s.%N)
    python3 - "$out" "$dev" "$start" "$end" <<'PY'
import glob, json, os, sys
out, dev, start, end = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
res = []
for f in glob.glob(out + "/*.json"):
    d = json.load(open(f))
    res.append(d.get("resources") or {})
    text = "\f".join("\n".join(l.get("text") or " ".join(w["text"] for w in l["words"])
                               for b in p["blocks"] for pa in b.get("paragraphs") or [] for l in pa["lines"])
                     for p in d.get("pages") or [])
    open(f[:-5] + ".txt", "w").write(text)
print(dev, "pages/s", round(len(res) / (end - start), 2),
      "gpu peak MiB (max)", max((r.get("gpu_peak_bytes", 0) for r in res), default=0) >> 20,
      "host peak MiB (max)", max((r.get("peak_bytes", 0) for r in res), default=0) >> 20,
      "devices", sorted({r.get("device") for r in res}))
PY
  done
  echo "GPU used after the runs: $(gpu_used) MiB (before $before)"
  d=$(( $(gpu_used) - before )); [ ${d#-} -le 10 ]
  check "GPU memory back within 10 MiB after ppocr's runner exits" $?
  "$PACK/textdiff" "$work/ppocr-cpu" "$work/ppocr-cuda0" | tail -3
fi

echo "== GPU used at the end: $(gpu_used) MiB (baseline $base_used)"
exit $fail
