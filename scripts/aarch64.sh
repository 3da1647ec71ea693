#!/usr/bin/env bash
# wrun for aarch64 Linux, built on this x86_64 machine and run under
# Debian's qemu-user-static (issue 11's cross-testing ground). Installs the
# Rust target and qemu if needed (idempotent), builds
# `wrun --target aarch64-unknown-linux-musl` (linker and runner are set in
# .cargo/config.toml) and runs the benchmark workloads' modules on it,
# checking their results against the x86_64 build's, then runs the official
# suites on the aarch64 interpreter (`wrun spec`, which must end with 0
# unexpected failures against the same known-failures list).
#
# qemu-user keeps a descriptor per reserved guest page, about 6 MB of real
# memory per GiB of address space, so a 32-bit memory's default 4 GiB +
# guard reservation costs ~50 MB under qemu and a spec run with many memories
# alive exceeds 12 GB. The spec run therefore caps each memory's reservation
# (`--memory-reservation 1Mi`: memories that outgrow it move); on real
# aarch64 hardware a reservation costs nothing until touched.
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
qemu-aarch64-static "$arm" spec --memory-reservation 1Mi
# The runtime's own tests on aarch64 (the cargo runner is qemu-aarch64-static).
# Not tests/robustness.rs: its thousands of generated modules each reserve
# guarded memories with the default config, which under qemu-user takes more
# than 24 GB (see above); it is architecture-neutral and runs natively. Not
# tests/tiers.rs: it asserts which tier runs a module, and aarch64 has no JIT
# yet (issue 11).
cargo test --release --target aarch64-unknown-linux-musl -p wrun-runtime \
    --lib --test api --test fusion --test interrupt
