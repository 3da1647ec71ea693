#!/usr/bin/env bash
# Seconds from start to "Run /init" and to the busybox shell prompt for one
# kernel, booted one after the other in one run, with the same kernel,
# initramfs, command line and RAM, by x86emu, by `qemu-system-x86_64
# -accel tcg`, optionally by emu.wasm on wrun, and (32-bit kernels) by v86;
# prints a table and the ratios to QEMU.
#
#   bash scripts/linux-boot-timing.sh [x86_64|debian|i386|debian-686] [--emu-wasm]
#
# x86_64: the project's bzImage (scripts/build-kernel.sh); debian: Debian's
# cloud kernel (scripts/debian-kernel.sh cloud); both with the x86_64
# initramfs. i386: the project's i386 bzImage; debian-686: Debian's stock
# i386 kernel (scripts/debian-kernel.sh 686); both with the i386 initramfs
# and also booted by v86 (npm `v86` in Node with Debian's SeaBIOS,
# scripts/v86/setup.sh). --emu-wasm adds emu.wasm on wrun's JIT
# (scripts/build-emu.sh; minutes for the Debian kernels). The emulator's
# instruction count to the prompt is printed by
# `cargo test --release -p guest-x86 --test linux_boot -- --nocapture`.
set -euo pipefail
cd "$(dirname "$0")/.."
which=x86_64
with_wasm=no
for arg in "$@"; do
  case $arg in
    x86_64 | debian | i386 | debian-686) which=$arg ;;
    --emu-wasm) with_wasm=yes ;;
    *) echo "usage: $0 [x86_64|debian|i386|debian-686] [--emu-wasm]" >&2; exit 2 ;;
  esac
done
case $which in
  x86_64) bash scripts/build-kernel.sh x86_64 >&2; kernel=target/kernels/x86_64/bzImage ;;
  debian) bash scripts/debian-kernel.sh cloud >&2; kernel=target/kernels/debian-cloud/vmlinuz ;;
  i386) bash scripts/build-kernel.sh i386 >&2; kernel=target/kernels/i386/bzImage ;;
  debian-686) bash scripts/debian-kernel.sh 686 >&2; kernel=target/kernels/debian-686/vmlinuz ;;
esac
case $which in
  x86_64 | debian) initrd=target/kernels/x86_64/initramfs.cpio.gz; bits=64 ;;
  *) bash scripts/build-kernel.sh i386 >&2; initrd=target/kernels/i386/initramfs.cpio.gz; bits=32 ;;
esac
[ -f "$initrd" ] || bash scripts/build-kernel.sh x86_64 >&2
append="console=ttyS0 earlyprintk=serial"
mem=128
bash scripts/pc-test-deps.sh
cargo build --quiet --release -p guest-x86 --bin x86emu
if [ "$with_wasm" = yes ]; then
  bash scripts/build-emu.sh
  cargo build --quiet --release -p wrun-cli
fi
if [ "$bits" = 32 ]; then
  bash scripts/v86/setup.sh >&2
fi

# boot NAME CMD..: runs CMD with its console on stdout until the shell's
# "/ # " appears (then stops it); prints NAME, the seconds to "Run /init"
# and to the prompt.
boot() {
  python3 - "$@" <<'PY' | tee /dev/stderr
import subprocess, sys, time
name, cmd = sys.argv[1], sys.argv[2:]
start = time.monotonic()
p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
seen, init = b"", None
while True:
    b = p.stdout.read1(4096)
    if not b:
        print(f"{name}: the guest stopped before the prompt", file=sys.stderr); sys.exit(1)
    seen = (seen + b)[-4096:]
    if init is None and b"Run /init" in seen:
        init = time.monotonic() - start
    if b"/ # " in seen:
        break
print(f"{name} {init if init is not None else float('nan'):.2f} {time.monotonic() - start:.2f}")
p.kill(); p.wait()
PY
}

rows=()
rows+=("$(boot x86emu target/release/x86emu --kernel "$kernel" --initrd "$initrd" --append "$append" --mem $mem)")
rows+=("$(boot qemu-tcg qemu-system-x86_64 -accel tcg -m $mem -display none -no-reboot -serial stdio \
  -kernel "$kernel" -initrd "$initrd" -append "$append")")
if [ "$with_wasm" = yes ]; then
  rows+=("$(boot emu.wasm-on-wrun-jit target/release/wrun run target/emu/emu.wasm \
    --kernel "$kernel" --initrd "$initrd" --append "$append" --mem $mem)")
fi
if [ "$bits" = 32 ]; then
  rows+=("$(boot v86-in-node node scripts/v86/boot.mjs "$kernel" "$initrd" "$append" $mem)")
fi
printf '%s\n' "${rows[@]}" | python3 -c '
import sys
which = sys.argv[1]
rows = [l.split() for l in sys.stdin if l.strip()]
qemu = {r[0]: r for r in rows}["qemu-tcg"]
print(f"{which} kernel, seconds (ratio to QEMU TCG):")
print("  {:24} {:>17} {:>17}".format("engine", "to /init", "to the prompt"))
for name, init, prompt in rows:
    ri = float(init) / float(qemu[1])
    rp = float(prompt) / float(qemu[2])
    print(f"  {name:24} {float(init):8.2f} ({ri:5.2f}x) {float(prompt):8.2f} ({rp:5.2f}x)")
' "$which"
