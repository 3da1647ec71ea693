#!/usr/bin/env bash
# Mutation testing of one source file: `bash scripts/mutants.sh FILE [ARGS]`
# (ARGS go to cargo-mutants, e.g. `--re 'fn add'` or `--shard 1/8`).
# Installs cargo-mutants (pinned) if needed, picks the test targets that
# must catch a mutant of FILE's area, and writes the report to
# target/mutants/<file>/mutants.out (caught.txt, missed.txt, timeout.txt,
# unviable.txt); the last lines printed are the counts.
# Configuration: .cargo/mutants.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_MUTANTS_VERSION=27.1.0

if [ $# -lt 1 ] || [ ! -f "$1" ]; then
    echo "usage: bash scripts/mutants.sh FILE [cargo-mutants args]" >&2
    exit 2
fi
file=$1
shift
if ! cargo mutants --version 2>/dev/null | grep -q "$CARGO_MUTANTS_VERSION"; then
    cargo install --locked cargo-mutants --version "$CARGO_MUTANTS_VERSION"
fi

# The tests that speak for each area (package, and test targets when the
# package's own unit tests are not where its behaviour is checked).
case "$file" in
    runtime/src/*)
        # The interpreter's semantics are checked by the official suites
        # (spec-tests) and the runtime's own API and robustness tests.
        tests=(--test-package wrun-runtime --test-package wrun-spec) ;;
    jit/src/*)
        tests=(--test-package wrun-jit --test-package wrun-spec) ;;
    wasi/src/*)
        tests=(--test-package wrun-wasi) ;;
    guest-x86/src/cpu/*)
        # The host CPU is the oracle: the differential run and the unit tests.
        tests=(--test-package guest-x86 --cargo-test-arg=--lib
               --cargo-test-arg=--test=differential --cargo-test-arg=--test=decoder_oracle) ;;
    guest-x86/src/user/*|guest-x86/src/mmu/space.rs|guest-x86/src/mmu/phys.rs)
        tests=(--test-package guest-x86 --cargo-test-arg=--lib
               --cargo-test-arg=--test=busybox --cargo-test-arg=--test=programs
               --cargo-test-arg=--test=user_mode --cargo-test-arg=--test=memory_limits) ;;
    guest-x86/src/*)
        tests=(--test-package guest-x86 --cargo-test-arg=--lib
               --cargo-test-arg=--test=pc_guests --cargo-test-arg=--test=pc_robustness
               --cargo-test-arg=--test=linux_boot) ;;
    *)
        echo "scripts/mutants.sh: $file is outside the areas .cargo/mutants.toml examines" >&2
        exit 2 ;;
esac

out="target/mutants/$(echo "$file" | tr / _)"
mkdir -p "$out"
status=0
cargo mutants --file "$file" "${tests[@]}" --output "$out" "$@" || status=$?
# cargo-mutants exits 2 when mutants were missed, 3 on timeouts: report, then pass it on.
for kind in caught missed timeout unviable; do
    n=$(wc -l < "$out/mutants.out/$kind.txt" 2>/dev/null || echo 0)
    echo "$kind: $n"
done
exit $status
