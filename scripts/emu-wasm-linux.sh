#!/usr/bin/env bash
# Boots the project's x86_64 kernel in emu.wasm on wrun to the busybox
# shell and runs a console session (uname -m, echo, a pipeline), printing
# when each milestone appeared:
#
#   bash scripts/emu-wasm-linux.sh          # wrun's JIT (2 to 5 minutes)
#   bash scripts/emu-wasm-linux.sh interp   # wrun's interpreter (over 20 minutes)
#
# The test is `linux_boots_to_the_shell_in_emu_wasm` in
# cli/tests/emu_wasm/pc.rs (ignored in CI for its length). Builds the
# kernel first if it is not cached (scripts/build-kernel.sh x86_64).
set -euo pipefail
cd "$(dirname "$0")/.."
engine="${1:-jit}"
if [ ! -f target/kernels/x86_64/bzImage ]; then
    bash scripts/build-kernel.sh x86_64
fi
EMU_LINUX_ENGINE="$engine" cargo test --release -p wrun-cli --test emu_wasm -- \
    --ignored --exact pc::linux_boots_to_the_shell_in_emu_wasm --nocapture
