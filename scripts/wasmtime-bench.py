#!/usr/bin/env python3
"""The wasmtime column of `wrun-bench` (benches/src/engines.rs): compiles
the workload module (WAT text or a binary) whose path is stdin's first line, then
prints `ready NANOSECONDS` (the time `wasmtime.Module` took to compile
it), then serves calls: for each line `n` on stdin it calls the export `run(n)` and
prints `result nanoseconds` (the call alone, timed here, so the pipe and
Python are not counted). An error prints `error: ...` and exits 1.

wasmtime comes from PyPI's `wasmtime` package (scripts/wasmtime.sh).
"""

import sys
import time

import wasmtime


def main():
    path = sys.stdin.readline().strip()
    try:
        engine = wasmtime.Engine()
        store = wasmtime.Store(engine)
        with open(path, "rb") as f:
            source = f.read()
        started = time.perf_counter_ns()
        module = wasmtime.Module(engine, source)
        compiled_in = time.perf_counter_ns() - started
        instance = wasmtime.Instance(store, module, [])
        run = instance.exports(store)["run"]
    except Exception as e:
        print(f"error: {e}".replace("\n", " "), flush=True)
        return 1
    print(f"ready {compiled_in}", flush=True)
    for line in sys.stdin:
        n = int(line)
        try:
            started = time.perf_counter_ns()
            result = run(store, n)
            elapsed = time.perf_counter_ns() - started
        except Exception as e:
            print(f"error: {e}".replace("\n", " "), flush=True)
            return 1
        print(f"{result} {elapsed}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
