#!/bin/sh
# Installs the reference engine for the real-program corpus: wasmtime's
# prebuilt C API through PyPI's `wasmtime` package, in a virtualenv under
# target/tools/wasmtime-py, driven by scripts/wasmtime-run.py. (Building
# wasmtime-cli from source takes 8+ minutes here; the wheel takes seconds.)
# Prints the python to run wasmtime-run.py with. Safe to run again.
set -eu
exec sh "$(dirname "$0")/python-tool.sh" wasmtime-py wasmtime 50.0.1 wasmtime
