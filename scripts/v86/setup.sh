#!/usr/bin/env bash
# v86 (https://github.com/copy/v86), the best-known PC emulator running as
# wasm, as a peer for the 32-bit boot timings: the npm package at a pinned
# version in target/tools/v86 (its wasm core and JS), run in Node, with
# Debian's SeaBIOS and VGA BIOS images (package seabios). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
version=0.5.462
need=()
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
[ -f /usr/share/seabios/bios.bin ] || need+=(seabios)
if [ ${#need[@]} -gt 0 ]; then
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi
dir=target/tools/v86
if ! grep -q "\"version\": \"$version" "$dir/node_modules/v86/package.json" 2>/dev/null; then
  mkdir -p "$dir"
  npm install --silent --no-audit --no-fund --prefix "$dir" "v86@$version"
fi
