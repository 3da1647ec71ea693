#!/usr/bin/env bash
# wrun for aarch64 Linux, built on this x86_64 machine and run under
# Debian's qemu-user-static (issue 11's cross-testing ground). Installs the
# Rust target and qemu if needed (idempotent), builds
# `wrun --target aarch64-unknown-linux-musl` (linker and runner are set in
# .cargo/config.toml) and runs the benchmark workloads' modules on it,
# checking their results against the x86_64 build's (on the aarch64 JIT,
# the default there), then runs the official suites on the aarch64 JIT
# (`wrun spec --engine jit`, about 170 s under qemu here; it must end with 0
# unexpected failures against the same known-failures list) and the
# runtime's and JIT's tests. `--full` adds the interpreter tier's run.
#
# qemu-user keeps a descriptor per reserved guest page, about 6 MB of real
# memory per GiB of address space, so a 32-bit memory's default 4 GiB +
# guard reservation costs ~50 MB under qemu and a spec run with many memories
# alive exceeds 12 GB. The spec run therefore caps each memory's reservation
# (`--memory-reservation 1Mi`: memories that outgrow it move); on real
# aarch64 hardware a reservation costs nothing until touched.
set -euo pipefail
cd "$(dirname "$0")/.."
# --full adds what CI's 40 minutes leave out: the interpreter-tier spec run
# (about 2 minutes under qemu) and tests/tiers.rs and tests/jit_differential.rs
# (about 40 minutes under qemu).
full=no
case "${1:-}" in
    --full) full=yes ;;
    "") ;;
    *) echo "usage: $0 [--full]" >&2; exit 2 ;;
esac
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
# The JIT's aarch64 backend (issue 11) on the official suites; modules it
# does not compile whole (SIMD, GC) run there on the aarch64 interpreter.
qemu-aarch64-static "$arm" spec --engine jit --memory-reservation 1Mi
if [ "$full" = yes ]; then
    # The interpreter tier on every module, and the long tier tests.
    qemu-aarch64-static "$arm" spec --engine interp --memory-reservation 1Mi
    cargo test --release --target aarch64-unknown-linux-musl -p wrun-runtime \
        --test tiers --test jit_differential
fi
# The runtime's and the JIT's own tests on aarch64 (the cargo runner is
# qemu-aarch64-static): api, fusion and interrupt run on the JIT there (the
# default strategy); wrun-jit's encoding tests and its interpreter-vs-JIT
# differential (floats bit for bit) and jit_exceptions compare the tiers.
# Not tests/robustness.rs: its thousands of generated modules each reserve
# guarded memories with the default config, which under qemu-user takes more
# than 24 GB (see above); it is architecture-neutral and runs natively. Not
# tests/tiers.rs (about 65 s under qemu: ten million tail calls, a fuel
# sweep) nor tests/jit_differential.rs (minutes of wasm-smith modules under
# qemu): both pass on aarch64 but do not fit CI's budget.
cargo test --release --target aarch64-unknown-linux-musl -p wrun-runtime -p wrun-jit \
    --lib --test api --test fusion --test interrupt --test jit_exceptions --test differential
