#!/usr/bin/env bash
# One busybox workload timed three ways in one run: natively, under the
# native emulator (`x86emu --user`) and under `wrun emu.wasm --user` (the
# emulator as wasm64, on wrun's JIT and on its interpreter); prints a table
# with ratios.
#
#   bash scripts/emu-timing.sh [KIB]     # sha256sum of a KIB KiB file (default 256)
#
# Builds what it needs (release wrun and x86emu, emu.wasm). Each figure is
# the best of several runs (native: 20, x86emu: 5, wrun JIT: 5, wrun
# interpreter: 2).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"
kib="${1:-256}"
busybox="${BUSYBOX:-/bin/busybox}"

cargo build --quiet --release -p wrun-cli --bin wrun
cargo build --quiet --release -p guest-x86 --bin x86emu
emu="$(bash scripts/build-emu.sh)"
root="$PWD"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Deterministic input: a counter through sha256, repeated.
python3 -c "
import hashlib,sys
out=bytearray()
i=0
while len(out) < $kib*1024:
    out += hashlib.sha256(str(i).encode()).digest(); i += 1
sys.stdout.buffer.write(out[:$kib*1024])" > "$work/input.bin"
cd "$work"

# best_of N CMD..: the fastest wall time of N runs, in seconds.
best_of() {
    local n="$1" best="" t0 t1 dt
    shift
    for _ in $(seq "$n"); do
        t0=$(date +%s%N)
        "$@" > "$work/out.txt"
        t1=$(date +%s%N)
        dt=$(( t1 - t0 ))
        if [ -z "$best" ] || [ "$dt" -lt "$best" ]; then best=$dt; fi
    done
    python3 -c "print(f'{$best/1e9:.4f}')"
}

native=$(best_of 20 "$busybox" sha256sum input.bin)
expected=$(cat out.txt)
x86emu=$(best_of 5 "$root/target/release/x86emu" --user "$busybox" sha256sum input.bin)
[ "$(cat out.txt)" = "$expected" ] || { echo "x86emu output differs" >&2; exit 1; }
jit=$(best_of 5 "$root/target/release/wrun" --engine jit --dir "$(dirname "$busybox")" \
    "$root/$emu" --user "$busybox" sha256sum input.bin)
[ "$(cat out.txt)" = "$expected" ] || { echo "emu.wasm (JIT) output differs" >&2; exit 1; }
wasm=$(best_of 2 "$root/target/release/wrun" --engine interp --dir "$(dirname "$busybox")" \
    "$root/$emu" --user "$busybox" sha256sum input.bin)
[ "$(cat out.txt)" = "$expected" ] || { echo "emu.wasm output differs" >&2; exit 1; }

echo "workload: busybox sha256sum of a ${kib} KiB file ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
python3 - "$native" "$x86emu" "$jit" "$wasm" <<'PY'
import sys
native, emu, jit, wasm = map(float, sys.argv[1:])
rows = [("native busybox", native), ("x86emu --user (native emulator)", emu),
        ("wrun emu.wasm --user (JIT)", jit),
        ("wrun emu.wasm --user (interpreter)", wasm)]
print(f"| {'how':<36} | {'seconds':>9} | {'vs native':>10} | {'vs x86emu':>9} |")
print(f"|{'-'*38}|{'-'*11}|{'-'*12}|{'-'*11}|")
for name, t in rows:
    print(f"| {name:<36} | {t:>9.4f} | {t/native:>9.0f}x | {t/emu:>8.2f}x |")
PY
