#!/bin/sh
# Installs what `cargo test -p wrun-wasi` needs on a fresh Debian 12 machine
# that already has rustup (stable + nightly), gcc and Python:
#   - clang, lld, wasi-libc and the wasm32 compiler-rt builtins, to build the
#     C test programs for wasm32-wasi;
#   - the `wasm32-wasip1` Rust target, to build the Rust test programs;
#   - nightly's `rust-src`, to build the `no_std` wasm64 program with
#     `-Zbuild-std=core` for `wasm64-unknown-unknown` (a tier-3 target).
# Safe to run again: every step is a no-op when already done.
set -eu

need_apt=""
for pkg in clang lld wasi-libc libclang-rt-dev-wasm32; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        need_apt="$need_apt $pkg"
    fi
done
if [ -n "$need_apt" ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $need_apt
fi

rustup target add wasm32-wasip1
# An existing nightly is kept as is (other crates of the workspace build with it).
rustup toolchain list | grep -q "^nightly" || rustup toolchain install nightly --profile minimal
rustup component add rust-src --toolchain nightly
