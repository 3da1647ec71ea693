#!/usr/bin/env bash
# User-mode speed of guest-x86, side by side in one run: two busybox
# workloads natively, under `x86emu --user` and under `qemu-x86_64-static`
# (Debian qemu-user-static), with the outputs checked to agree.
#
#   bash scripts/user-mode-timing.sh [MIB]     # input size, default 20
set -euo pipefail
cd "$(dirname "$0")/.."
mib="${1:-20}"
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
command -v qemu-x86_64-static >/dev/null || {
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y qemu-user-static
}
cargo build --quiet --release -p guest-x86 --bin x86emu
x86emu="$PWD/target/release/x86emu"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
python3 -c "
import hashlib, sys
out = bytearray(); i = 0
while len(out) < $mib * 1024 * 1024:
    out += hashlib.sha256(str(i).encode()).digest() * 4; i += 1
sys.stdout.buffer.write(out[:$mib * 1024 * 1024])" > input.bin

ms() { local s e; s=$(date +%s%N); "$@" > "$work/out" 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
printf '| workload (%s MiB) | native ms | x86emu ms | qemu-x86_64 ms | x86emu / native | x86emu / qemu |\n|---|---|---|---|---|---|\n' "$mib"
for w in "sha256sum input.bin" "gzip -c input.bin"; do
  # shellcheck disable=SC2086
  n=$(ms /bin/busybox $w); ref=$(md5sum < "$work/out")
  # shellcheck disable=SC2086
  x=$(ms "$x86emu" --user /bin/busybox $w); [ "$(md5sum < "$work/out")" = "$ref" ] || { echo "x86emu output differs for $w"; exit 1; }
  # shellcheck disable=SC2086
  q=$(ms qemu-x86_64-static /bin/busybox $w); [ "$(md5sum < "$work/out")" = "$ref" ] || { echo "qemu output differs for $w"; exit 1; }
  python3 -c "print(f'| busybox $w | $n | $x | $q | {$x/$n:.0f}x | {$x/$q:.0f}x |')"
done
