#!/usr/bin/env bash
# Builds the emulator as a wasm64 WASI command: target/emu/emu.wasm.
#
#   bash scripts/build-emu.sh          # then: wrun target/emu/emu.wasm --user PROG ARGS
#
# guest-x86 for wasm64-unknown-unknown (a tier-3 target: nightly with
# rust-src, -Zbuild-std=core,alloc), release, panic=abort, the `emu` binary
# (src/bin/emu.rs). It imports only wasi_snapshot_preview1 (64-bit ABI) and
# exports `_start`, `memory` and its function table (64-bit, as memory64
# requires; exported so `wrun inspect` shows it). No DWARF: the name section
# is enough for wrun's backtraces. Idempotent: installs nightly's rust-src if
# missing and lets cargo decide what to rebuild. EMU_OUT overrides the
# output path.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"
out="${EMU_OUT:-target/emu/emu.wasm}"

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! rustup component list --toolchain nightly --installed | grep -q '^rust-src'; then
    rustup component add rust-src --toolchain nightly
fi

# The outer environment (e.g. a `cargo test` calling this script) must not
# leak its toolchain or flags into the nightly build.
env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS -u RUSTC -u RUSTC_WRAPPER \
    -u RUSTUP_TOOLCHAIN -u CARGO_TARGET_DIR -u CARGO \
    cargo +nightly build --quiet --release -p guest-x86 --bin emu \
    --no-default-features --features wasi \
    --target wasm64-unknown-unknown -Zbuild-std=core,alloc \
    --config 'profile.release.panic="abort"' \
    --config 'profile.release.debug=false' \
    --config 'target.wasm64-unknown-unknown.rustflags=["-C", "link-arg=--export-table"]' \
    --target-dir target/emu/cargo

mkdir -p "$(dirname "$out")"
cp target/emu/cargo/wasm64-unknown-unknown/release/emu.wasm "$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
