#!/usr/bin/env bash
# The whole real-program corpus (README "Real programs"): builds every
# program (scripts/corpus-build.sh), installs wasmtime (scripts/wasmtime.sh),
# runs every invocation on wrun and wasmtime and compares them
# (cli/tests/real_programs.rs, ignored ones included), then times heavier
# runs of each program on both and prints wrun ÷ wasmtime, compile time
# included and excluded (scripts/corpus-timings.py). `--engine jit` after
# the script's name times wrun's JIT instead of its interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/corpus-build.sh full >/dev/null
python=$(bash scripts/wasmtime.sh)
cargo build --release -p wrun-cli --bin wrun
cargo test --release -p wrun-cli --test real_programs -- --include-ignored
"$python" scripts/corpus-timings.py "$@"
