#!/usr/bin/env bash
# Builds the edge functions' modules into DIR (default: wasm/ beside this script) as
# NAME.wasm.gz, reproducibly: the same Go toolchain and sources give the same bytes
# (-trimpath, no VCS stamp, no build id, CGO off, fixed flags; gzip without name or time).
# .ci/wasm-check rebuilds into a temporary directory and compares.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "${1:-$here/wasm}" && cd "${1:-$here/wasm}" && pwd)
cd "$here"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for name in auth filter locale prefs; do
  GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 GOFLAGS= go build -trimpath -buildvcs=false -buildmode=c-shared \
    -ldflags='-s -w -buildid=' -o "$tmp/$name.wasm" "./$name"
  gzip -9 -n -c "$tmp/$name.wasm" >"$out/$name.wasm.gz"
  printf '%s\t%d bytes, %d gzipped\n' "$name" "$(wc -c <"$tmp/$name.wasm")" "$(wc -c <"$out/$name.wasm.gz")"
done
