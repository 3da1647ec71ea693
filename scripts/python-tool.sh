#!/bin/sh
# A pinned PyPI package in its own virtualenv under target/tools/:
#   scripts/python-tool.sh VENV PACKAGE VERSION MODULE
# installs PACKAGE==VERSION into target/tools/VENV unless MODULE already
# imports there at that version, and prints the virtualenv's python.
# Safe to run again. Used by scripts/wasmtime.sh and scripts/wasm3.sh.
set -eu
cd "$(dirname "$0")/.."
venv=target/tools/$1 package=$2 version=$3 module=$4
if ! "$venv/bin/python" -c "import $module" 2>/dev/null \
    || ! "$venv/bin/pip" show "$package" 2>/dev/null | grep -qx "Version: $version"; then
    mkdir -p target/tools
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$package==$version" >&2
fi
echo "$PWD/$venv/bin/python"
