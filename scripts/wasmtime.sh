#!/bin/sh
# Installs the reference engine for the real-program corpus: wasmtime's
# prebuilt C API through PyPI's `wasmtime` package, in a virtualenv under
# target/tools/wasmtime-py, driven by scripts/wasmtime-run.py. (Building
# wasmtime-cli from source takes 8+ minutes here; the wheel takes seconds.)
# Prints the python to run wasmtime-run.py with. Safe to run again.
set -eu
cd "$(dirname "$0")/.."
WASMTIME_VERSION=50.0.1
venv=target/tools/wasmtime-py
if ! "$venv/bin/python" -c "import wasmtime, sys; sys.exit(0)" 2>/dev/null \
    || ! "$venv/bin/pip" show wasmtime 2>/dev/null | grep -qx "Version: $WASMTIME_VERSION"; then
    mkdir -p target/tools
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "wasmtime==$WASMTIME_VERSION" >&2
fi
echo "$PWD/$venv/bin/python"
