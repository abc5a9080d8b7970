#!/usr/bin/env bash
# The web page in Firefox: installs firefox-esr (Debian) and puppeteer-core
# (npm, scripts off: it downloads no browser) where missing, starts a
# lector serve on a free port with a fresh data directory, reads
# pages/linn.png with Tesseract, and runs check.mjs (list, viewer with word
# boxes, system page; screenshots in $OUT, default /tmp/lector-firefox).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
OUT=${OUT:-/tmp/lector-firefox}
mkdir -p "$OUT"
command -v firefox-esr >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q firefox-esr; }
NODE_DIR=${NODE_DIR:-$HOME/.cache/lector/firefox-check}
[ -d "$NODE_DIR/node_modules/puppeteer-core" ] || { mkdir -p "$NODE_DIR" && (cd "$NODE_DIR" && npm init -y >/dev/null && npm install --ignore-scripts puppeteer-core@24); }
build_lector
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
XDG_DATA_HOME=$data bin/lector serve --listen 127.0.0.1:$port --data-dir "$data/d" > "$OUT/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
until curl -sf "127.0.0.1:$port/readyz" >/dev/null; do kill -0 $pid; sleep 0.2; done
id=$(curl -sf -F file=@"${EVAL:-../shared/eval}/pages/linn.png" "127.0.0.1:$port/v1/tasks" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
# ESM resolves packages beside the script: run a copy where puppeteer-core is.
cp bench/firefox/check.mjs "$NODE_DIR/check.mjs"
node "$NODE_DIR/check.mjs" "http://127.0.0.1:$port" "$id" "$OUT"
