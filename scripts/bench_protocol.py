"""The pipe protocol of `wrun-bench`'s script engines (benches/src/engines.rs),
shared by wasmtime-bench.py and wasm3-bench.py: the module's path is
stdin's first line; `load(path)` compiles it and returns how many
nanoseconds that took and the export `run`; this prints
`ready NANOSECONDS`, then for each line `n` on stdin calls `run(n)` and
prints `result nanoseconds` (the call alone, timed here, so the pipe and
Python are not counted). An error prints `error: ...` and exits 1.
"""

import sys
import time


def serve(load):
    path = sys.stdin.readline().strip()
    try:
        compiled_in, run = load(path)
    except Exception as e:
        print(f"error: {e}".replace("\n", " "), flush=True)
        return 1
    print(f"ready {compiled_in}", flush=True)
    for line in sys.stdin:
        n = int(line)
        try:
            started = time.perf_counter_ns()
            result = run(n)
            elapsed = time.perf_counter_ns() - started
        except Exception as e:
            print(f"error: {e}".replace("\n", " "), flush=True)
            return 1
        print(f"{result} {elapsed}", flush=True)
    return 0
