#!/usr/bin/env bash
# The project's test command (README "Run the tests"). Installs what the
# tests need on a fresh Debian machine (idempotent), then runs every suite.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# Tool installs for suites that need them (idempotent): clang, lld,
# wasi-libc and compiler-rt for wasm32, the wasm32-wasip1 target, nightly
# rust-src for the wasm64 builds.
bash scripts/wasi-test-deps.sh

echo "== cargo test (workspace, release)"
cargo test --workspace --release

if [ -f scripts/guest-x86-ci.sh ]; then
  echo "== guest-x86: wasm64 build and differential/user-mode suites"
  bash scripts/guest-x86-ci.sh
fi

echo "== wrun spec (official suites; exits non-zero on any failure not in spec-tests/known-failures.txt)"
if cargo metadata --format-version 1 --no-deps 2>/dev/null | grep -q '"name":"wrun-cli"'; then
  cargo run --release -q -p wrun-cli -- spec
fi
