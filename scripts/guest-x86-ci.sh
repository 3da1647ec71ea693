#!/usr/bin/env bash
# CI for the guest-x86 crate. Idempotent: installs what it needs on a fresh
# Debian machine (busybox-static for the user-mode comparisons, the nightly
# rust-src component for the wasm64 build), then checks formatting and
# lints, builds the wasm64 library and runs the release test suite (which
# includes the differential run against the host CPU and busybox applets).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# The tests need Debian's *static* busybox at /bin/busybox (the dynamic
# "busybox" package installs the same path; the corpus is the static one).
if ! dpkg -s busybox-static >/dev/null 2>&1 || [ ! -x /bin/busybox ]; then
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y busybox-static
fi
# tests/programs.rs links its C programs with gcc -static: glibc's libc.a.
if ! dpkg -s libc6-dev >/dev/null 2>&1; then
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y libc6-dev
fi
# nasm and QEMU for the PC test guests (tests/pc_guests.rs).
bash scripts/pc-test-deps.sh
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
rustup component add rust-src --toolchain nightly
# The kernels tests/linux_boot.rs boots: the project's (built from Debian's
# linux-source, cached under target/kernels/) and Debian's stock one.
bash scripts/build-kernel.sh all
bash scripts/debian-kernel.sh

echo "== fmt / clippy"
cargo fmt --all -- --check
cargo clippy -p guest-x86 --all-targets -- -D warnings

echo "== wasm64 build (no_std + alloc, panic=abort)"
cargo +nightly build -p guest-x86 --lib --no-default-features \
    --target wasm64-unknown-unknown -Zbuild-std=core,alloc \
    --config 'profile.release.panic="abort"' --release

echo "== tests (release)"
cargo test -p guest-x86 --release
