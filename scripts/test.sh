#!/usr/bin/env bash
# The project's test command (README "Run the tests"). Installs what the
# tests need on a fresh Debian machine (idempotent), then runs every suite.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

echo "== installs"
# clang, lld, wasi-libc and compiler-rt for wasm32, the wasm32-wasip1
# target, nightly rust-src (wasm64 builds of guest-x86 and test programs).
bash scripts/wasi-test-deps.sh
# Debian's busybox-static: the user-mode corpus of guest-x86 and emu.wasm.
if ! /bin/busybox --help 2>&1 | grep -q BusyBox; then
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y busybox-static
fi
# glibc's static libraries: guest-x86's C test programs link with -static.
if ! dpkg -s libc6-dev >/dev/null 2>&1; then
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y libc6-dev
fi

# nasm and QEMU: guest-x86's PC test guests (assembled, then run under KVM/TCG).
bash scripts/pc-test-deps.sh

# wasmtime (PyPI's prebuilt C API), wasm3 and the CI slice of the real-program
# corpus (crates.io programs built for wasm32-wasip1, cached under
# target/corpus/): cli/tests/real_programs.rs compares them on both engines.
echo "== wasmtime, wasm3 and the real-program corpus (CI slice)"
bash scripts/wasmtime.sh >/dev/null
# wasm3 (PyPI's pywasm3, built from its C sources): a peer column of wrun-bench.
bash scripts/wasm3.sh >/dev/null
bash scripts/corpus-build.sh ci >/dev/null

# The test kernels (x86_64 and i386, from Debian's linux-source-6.1) and
# their busybox initramfs images for guest-x86's tests/linux_boot.rs; built
# once (about 5 minutes each on 2 cores), then cached under target/kernels/.
echo "== test kernels"
bash scripts/build-kernel.sh all
# Debian's stock cloud kernel (apt-get download, not installed) for the
# distribution-kernel boot test in tests/linux_boot.rs.
bash scripts/debian-kernel.sh

echo "== cargo test (workspace, release)"
# Includes: the official spec suites, the runtime's API/robustness/fusion
# tests, WASI programs (C, Rust, wasm64) against native builds, the
# differential tests, guest-x86's differential run against the host CPU and
# its busybox corpus, and emu.wasm on wrun against native busybox.
cargo test --workspace --release

echo "== guest-x86 builds for wasm64 (no_std + alloc, panic=abort)"
cargo +nightly build -p guest-x86 --lib --no-default-features \
  --target wasm64-unknown-unknown -Zbuild-std=core,alloc \
  --config 'profile.release.panic="abort"' --release

echo "== wrun spec (official suites; exits non-zero on any failure not in spec-tests/known-failures.txt,"
echo "   any listed case that passes and any entry that covers no failure)"
cargo run --release -q -p wrun-cli -- spec --engine interp
echo "== wrun spec --engine jit (modules the JIT compiles whole run as machine code, the rest on the interpreter)"
cargo run --release -q -p wrun-cli -- spec --engine jit
echo "== aarch64: wrun built for aarch64-unknown-linux-musl, run under qemu-aarch64-static"
echo "   (the benchmark modules against x86_64, the official suites, the runtime's tests)"
bash scripts/aarch64.sh
