#!/usr/bin/env python3
"""The wasm3 column of `wrun-bench`: the protocol of bench_protocol.py. The
"compile" time is parsing and loading the module: wasm3 compiles each
function on its first call, so that call's time includes it.

wasm3 comes from PyPI's `pywasm3` package (scripts/wasm3.sh).
"""

import sys
import time

import wasm3

from bench_protocol import serve

# wasm3's value stack for the runtime, in bytes (its default is 64 KiB,
# too small for the recursive workloads).
STACK_BYTES = 8 << 20


def load(path):
    with open(path, "rb") as f:
        binary = f.read()
    env = wasm3.Environment()
    runtime = env.new_runtime(STACK_BYTES)
    started = time.perf_counter_ns()
    module = env.parse_module(binary)
    runtime.load(module)
    loaded_in = time.perf_counter_ns() - started
    return loaded_in, runtime.find_function("run")


if __name__ == "__main__":
    sys.exit(serve(load))
