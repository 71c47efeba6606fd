#!/usr/bin/env bash
# Builds the faas functions' modules into DIR (default: wasm/ beside this script) as
# NAME.wasm.gz, reproducibly: the same Go toolchain and sources give the same bytes
# (-trimpath, no VCS stamp, no build id, CGO off, fixed flags; gzip without name or time).
# .ci/wasm-check rebuilds into a temporary directory and compares. A WASI command each (not
# -buildmode=c-shared as the edge functions): lab/faas runs _start, and main calls guest.Serve.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "${1:-$here/wasm}" && cd "${1:-$here/wasm}" && pwd)
cd "$here"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for name in thumbnail; do
  GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 GOFLAGS= go build -trimpath -buildvcs=false \
    -ldflags='-s -w -buildid=' -o "$tmp/$name.wasm" "./$name"
  gzip -9 -n -c "$tmp/$name.wasm" >"$out/$name.wasm.gz"
  printf '%s\t%d bytes, %d gzipped\n' "$name" "$(wc -c <"$tmp/$name.wasm")" "$(wc -c <"$out/$name.wasm.gz")"
done
