#!/usr/bin/env bash
# Lector's own build of Tesseract: Debian's source of the same version as
# Debian's package, compiled with cmake at -O2 and with
# TESSERACT_IMAGEDATA_AS_PIX (Tesseract then keeps each text line as a
# Leptonica image instead of PNG-compressing and decoding it before the LSTM
# reads it). Same text as Debian's library, ~17 % less recognition time
# (docs/BENCHMARKS.md). Installed as a static library under the cache; the
# Makefile points pkg-config at it, so the lector binary links it and needs
# no libtesseract at run time (Leptonica still comes from Debian).
#
#   scripts/tesseract.sh           build unless built (idempotent)
#   scripts/tesseract.sh --ldflags print the linker flags that make cgo link
#                                  it (nothing when it is not built)
#
# Without it (no deb-src, no root) Lector builds against Debian's
# libtesseract-dev: the same results, slower.
set -euo pipefail
VERSION=5.3.0-2
# How it is built; the cache directory is named by a hash of it, so a
# changed recipe builds anew.
DEFINE=TESSERACT_IMAGEDATA_AS_PIX
CMAKE_FLAGS=(-DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG"
  -DBUILD_SHARED_LIBS=OFF -DBUILD_TRAINING_TOOLS=OFF -DBUILD_TESTS=OFF -DGRAPHICS_DISABLED=ON
  -DDISABLE_CURL=ON -DDISABLE_ARCHIVE=ON -DOPENMP_BUILD=ON)
recipe=$(printf '%s\n' "$VERSION" "$DEFINE" "${CMAKE_FLAGS[@]}" | sha256sum | cut -c1-12)
cache=${LECTOR_DEPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lector}
prefix=$cache/tesseract-$VERSION-$recipe
if [ "${1:-}" = --ldflags ]; then
  # -L before the system's directories: -ltesseract finds the static build.
  if [ -f "$prefix/.done" ]; then echo "-L$prefix/lib -fopenmp"; fi
  exit 0
fi
[ -f "$prefix/.done" ] && exit 0

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
work=$(mktemp -d)
trap 'rm -rf "$work" "$prefix.tmp"' EXIT
cd "$work"
if ! apt-get source -qq --download-only "tesseract=$VERSION" >/dev/null 2>&1; then
  # Source packages come from the same archives as the binary ones: add
  # deb-src beside each configured deb entry, once.
  src=/etc/apt/sources.list.d/lector-deb-src.sources
  if [ ! -f "$src" ]; then
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] && [ "$f" != "$src" ] && sed -n '/^Types:.*\bdeb\b/,/^$/p' "$f" | sed 's/^Types:.*/Types: deb-src/'
    done > "$work/deb-src.sources"
    if [ -f /etc/apt/sources.list ]; then
      sed -n 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list > "$work/deb-src.list"
      [ -s "$work/deb-src.list" ] && as_root cp "$work/deb-src.list" /etc/apt/sources.list.d/lector-deb-src.list
    fi
    [ -s "$work/deb-src.sources" ] && as_root cp "$work/deb-src.sources" "$src"
  fi
  # (An archive without source indexes makes update complain; the source
  # download below is what decides.)
  as_root apt-get update -qq >/dev/null 2>&1 || true
  apt-get source -qq --download-only "tesseract=$VERSION" >/dev/null
fi
tar xzf "tesseract_${VERSION%-*}.orig.tar.gz"
cd "tesseract-${VERSION%-*}"
sed -i "0,/#include/s//#define $DEFINE 1\n#include/" src/ccstruct/imagedata.h
echo "building Tesseract $VERSION for Lector (a few minutes, once) ..." >&2
cmake -S . -B build "${CMAKE_FLAGS[@]}" -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
cmake --build build -j "$(nproc --all)" >/dev/null
DESTDIR="$work/stage" cmake --install build >/dev/null
mkdir -p "$cache"
rm -rf "$prefix.tmp" && mv "$work/stage$prefix" "$prefix.tmp"
touch "$prefix.tmp/.done"
rm -rf "$prefix" && mv "$prefix.tmp" "$prefix"
for old in "$cache"/tesseract-*; do # builds of earlier recipes
  [ "$old" = "$prefix" ] || rm -rf "$old"
done
echo "Tesseract for Lector: $prefix" >&2
