#!/usr/bin/env python3
"""The wasmtime column of `wrun-bench`: the protocol of bench_protocol.py,
with the compile time measured around `wasmtime.Module`.

wasmtime comes from PyPI's `wasmtime` package (scripts/wasmtime.sh).
"""

import sys
import time

import wasmtime

from bench_protocol import serve


def load(path):
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    with open(path, "rb") as f:
        source = f.read()
    started = time.perf_counter_ns()
    module = wasmtime.Module(engine, source)
    compiled_in = time.perf_counter_ns() - started
    instance = wasmtime.Instance(store, module, [])
    run = instance.exports(store)["run"]
    return compiled_in, lambda n: run(store, n)


if __name__ == "__main__":
    sys.exit(serve(load))
