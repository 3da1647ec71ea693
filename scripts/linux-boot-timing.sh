#!/usr/bin/env bash
# Seconds from start to the busybox shell prompt for one kernel, booted by
# x86emu and by `qemu-system-x86_64 -accel tcg` with the same kernel,
# initramfs, command line and RAM, one after the other in one run; prints
# both and the ratio.
#
#   bash scripts/linux-boot-timing.sh [x86_64|debian]   (default: x86_64)
#
# x86_64: the project's bzImage (scripts/build-kernel.sh); debian: Debian's
# cloud kernel (scripts/debian-kernel.sh). Both use the x86_64 initramfs.
# The emulator's instruction count to the prompt is printed by
# `cargo test --release -p guest-x86 --test linux_boot -- --nocapture`.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-x86_64}
case $which in
  x86_64) kernel=target/kernels/x86_64/bzImage ;;
  debian) kernel=target/kernels/debian-cloud/vmlinuz ;;
  *) echo "usage: $0 [x86_64|debian]" >&2; exit 2 ;;
esac
initrd=target/kernels/x86_64/initramfs.cpio.gz
append="console=ttyS0 earlyprintk=serial"
for f in "$kernel" "$initrd"; do
  [ -f "$f" ] || { echo "missing $f: run scripts/build-kernel.sh x86_64 (and scripts/debian-kernel.sh)" >&2; exit 1; }
done
bash scripts/pc-test-deps.sh
cargo build --quiet --release -p guest-x86 --bin x86emu

# to_prompt CMD..: runs CMD with its console on stdout until the shell's
# "/ # " appears (then stops it); prints the seconds it took.
to_prompt() {
  python3 - "$@" <<'EOF'
import subprocess, sys, time
start = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
seen = b""
while True:
    b = p.stdout.read1(4096) if hasattr(p.stdout, "read1") else p.stdout.read(1)
    if not b:
        print("the guest stopped before the prompt", file=sys.stderr); sys.exit(1)
    seen = (seen + b)[-4096:]
    if b"/ # " in seen:
        break
print(f"{time.monotonic() - start:.2f}")
p.kill(); p.wait()
EOF
}

emu=$(to_prompt target/release/x86emu --kernel "$kernel" --initrd "$initrd" --append "$append" --mem 128)
qemu=$(to_prompt qemu-system-x86_64 -accel tcg -m 128 -display none -no-reboot -serial stdio \
  -kernel "$kernel" -initrd "$initrd" -append "$append")
echo "$which kernel, seconds to the shell prompt:"
echo "  x86emu                         $emu"
echo "  qemu-system-x86_64 -accel tcg  $qemu"
python3 -c "print(f'  ratio x86emu / QEMU TCG        {$emu / $qemu:.2f}')"
