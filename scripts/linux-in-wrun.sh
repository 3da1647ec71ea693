#!/usr/bin/env bash
# The README's main job: 64-bit Linux booting in emu.wasm on wrun, to an
# interactive busybox shell on this terminal.
#
#   bash scripts/linux-in-wrun.sh [WRUN-OPTION..]   e.g. --engine interp
#
# On a fresh machine it installs what is missing and builds, each step
# cached and idempotent: the project's x86_64 kernel and its busybox
# initramfs (scripts/build-kernel.sh: Debian's linux-source-6.1, about 5
# minutes once), emu.wasm (scripts/build-emu.sh: nightly with rust-src) and
# wrun itself. Then it runs
#
#   wrun run [--raw-console] emu.wasm --kernel bzImage --initrd initramfs.cpio.gz --append console=ttyS0
#
# With a terminal on stdin the console is raw (Ctrl-C reaches the guest,
# Ctrl-A X quits); otherwise lines piped in reach the shell once it runs.
# The prompt appears after about a minute on the JIT (see the README's
# figures); `--engine interp` takes over 20 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-kernel.sh x86_64 >&2
bash scripts/build-emu.sh >&2
cargo build --quiet --release -p wrun-cli >&2
console=()
if [ -t 0 ]; then
  console=(--raw-console)
fi
exec target/release/wrun run "${console[@]}" "$@" target/emu/emu.wasm \
  --kernel target/kernels/x86_64/bzImage \
  --initrd target/kernels/x86_64/initramfs.cpio.gz \
  --append console=ttyS0
