#!/bin/sh
# Installs wasm3 for `wrun-bench`'s wasm3 column: PyPI's `pywasm3`, the
# wasm3 project's own Python binding, which compiles wasm3's C sources
# with -O3 when pip builds it (so the engine runs at C speed; only the
# per-call entry is Python, and scripts/wasm3-bench.py times the call
# itself). Needs gcc and Python's headers (python3-dev, installed here if
# missing). Virtualenv under target/tools/wasm3-py; prints the python to
# run wasm3-bench.py with. Safe to run again.
set -eu
include=$(python3 -c "import sysconfig; print(sysconfig.get_paths()['include'])")
if [ ! -f "$include/Python.h" ]; then
    as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root apt-get update >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y python3-dev >&2
fi
exec sh "$(dirname "$0")/python-tool.sh" wasm3-py pywasm3 0.5.0 wasm3
