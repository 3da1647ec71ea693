#!/usr/bin/env bash
# wrun for aarch64 Linux, built on this x86_64 machine and run under
# Debian's qemu-user-static (issue 11's cross-testing ground). Installs the
# Rust target and qemu if needed (idempotent), builds
# `wrun --target aarch64-unknown-linux-musl` (linker and runner are set in
# .cargo/config.toml) and runs the benchmark workloads' modules on it,
# checking their results against the x86_64 build's.
#
# Known limit: under qemu-user each linear memory's 4 GiB reservation costs
# the emulator about 750 MB of its own memory, so `wrun spec` (thousands of
# memories) is not run here yet; on real aarch64 hardware a reservation
# costs nothing until touched.
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
rustup target add aarch64-unknown-linux-musl >/dev/null
if ! command -v qemu-aarch64-static >/dev/null; then
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y qemu-user-static
fi
cargo build --release --bin wrun --target aarch64-unknown-linux-musl
cargo build --release --bin wrun
arm=target/aarch64-unknown-linux-musl/release/wrun
host=target/release/wrun
for args in "fib.wat 20" "collatz.wat 1000" "memory.wat 4096"; do
    set -- $args
    expected=$("$host" run --invoke run "benches/workloads/$1" "$2")
    got=$(qemu-aarch64-static "$arm" run --invoke run "benches/workloads/$1" "$2")
    if [ "$got" != "$expected" ]; then
        echo "aarch64: $1 run($2) = $got, x86_64 says $expected" >&2
        exit 1
    fi
    echo "aarch64: $1 run($2) = $got (same as x86_64)"
done
