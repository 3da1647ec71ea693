#!/usr/bin/env bash
# Builds the real-program corpus: well-known programs from crates.io,
# compiled for wasm32-wasip1 at pinned versions, into target/corpus/bin/
# (one .wasm per program): a markdown renderer (pulldown-cmark) and a
# search tool (ripgrep). (jaq 2.x/3.x and rhai-run do not build for
# wasm32-wasip1: their REPL's rustyline needs fd-lock, which needs Unix.) Used by cli/tests/real_programs.rs (which runs
# each on wrun and on wasmtime and compares) and scripts/corpus.sh (the
# timings). `bash scripts/corpus-build.sh ci` builds only the CI slice.
# Safe to run again: an installed program at its version is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip1 >/dev/null 2>&1 || rustup target add wasm32-wasip1

# name  version  slice  extra cargo-install arguments
PROGRAMS=(
    "pulldown-cmark 0.13.6 ci"
    "ripgrep 15.2.0 full"
)
slice=${1:-full}
root=target/corpus
for entry in "${PROGRAMS[@]}"; do
    read -r name version which extra <<<"$entry"
    if [ "$slice" = ci ] && [ "$which" != ci ]; then
        continue
    fi
    echo "== $name $version" >&2
    # shellcheck disable=SC2086
    cargo install --quiet --locked --root "$root" --target wasm32-wasip1 \
        "$name" --version "$version" $extra
done
ls "$root/bin"
