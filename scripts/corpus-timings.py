#!/usr/bin/env python3
"""Times the real-program corpus on wrun and on wasmtime, side by side in
one run (scripts/corpus.sh calls it after the comparison tests).

For each workload: the median of REPS runs of each engine, as total wall
time of the process (compile included), and as the engine's own run time
(compile excluded: wrun's `WRUN_LOG=time` line, wasmtime-run.py's
`--times`). Prints a Markdown table with the ratios wrun / wasmtime.
Options: --engine interp|jit (wrun's engine), --reps N (default 3).
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/corpus/bin")
WRUN = os.path.join(ROOT, "target/release/wrun")
PYTHON = os.path.join(ROOT, "target/tools/wasmtime-py/bin/python")
WASMTIME_RUN = os.path.join(ROOT, "scripts/wasmtime-run.py")


def make_inputs(work):
    """Inputs big enough that running dominates start-up."""
    section = (
        "## Section {i}\n\nSome *text* with `code`, **bold** and a [link](http://x/{i}).\n\n"
        "- item one\n- item two\n  - nested {i}\n\n| a | b |\n|---|---|\n| {i} | {j} |\n\n"
        "```\nfn f{i}() {{}}\n```\n\n"
    )
    with open(os.path.join(work, "big.md"), "w") as f:
        for i in range(20000):
            f.write(section.format(i=i, j=i * 7))
    src = os.path.join(work, "src")
    for top in ("runtime", "guest-x86", "wasi", "jit", "cli"):
        shutil.copytree(os.path.join(ROOT, top, "src"), os.path.join(src, top))


WORKLOADS = [
    ("pulldown-cmark: 20k sections", "pulldown-cmark.wasm", ["-T", "big.md"]),
    ("ripgrep: search the sources", "rg.wasm", ["-c", "--sort", "path", "fn |impl", "src"]),
]


def run_once(cmd, work, pattern):
    started = time.perf_counter()
    out = subprocess.run(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env={"WRUN_LOG": "time"})
    total = time.perf_counter() - started
    match = re.search(pattern, out.stderr.decode(errors="replace"))
    if out.returncode != 0 or not match:
        sys.exit(f"{cmd}: status {out.returncode}: {out.stderr.decode(errors='replace')[-500:]}")
    return total, float(match.group(1)), out.stdout


def main(argv):
    engine, reps = "interp", 3
    while argv:
        if argv[0] == "--engine" and len(argv) > 1:
            engine, argv = argv[1], argv[2:]
        elif argv[0] == "--reps" and len(argv) > 1:
            reps, argv = int(argv[1]), argv[2:]
        else:
            sys.exit(f"corpus-timings: unknown option {argv[0]}")
    work = tempfile.mkdtemp(prefix="wrun-corpus-")
    make_inputs(work)
    print(f"wrun engine: {engine}; median of {reps} runs; wasmtime {wasmtime_version()}\n")
    print("| workload | wrun total s | wasmtime total s | wrun ÷ wasmtime (compile incl.) "
          "| wrun run s | wasmtime run s | wrun ÷ wasmtime (compile excl.) |")
    print("|---|---|---|---|---|---|---|")
    for name, wasm, args in WORKLOADS:
        path = os.path.join(BIN, wasm)
        ours = [WRUN, "run", "--engine", engine, "--dir", ".::.", path] + args
        theirs = [PYTHON, WASMTIME_RUN, "--times", "--dir", ".::.", path] + args
        w = [run_once(ours, work, r"wrun: time: compile [0-9.]+ s, run ([0-9.]+) s") for _ in range(reps)]
        t = [run_once(theirs, work, r"[0-9.]+ ([0-9.]+)\s*$") for _ in range(reps)]
        if w[0][2] != t[0][2]:
            sys.exit(f"{name}: the outputs differ")
        wt, tt = statistics.median(x[0] for x in w), statistics.median(x[0] for x in t)
        wr, tr = statistics.median(x[1] for x in w), statistics.median(x[1] for x in t)
        print(f"| {name} | {wt:.3f} | {tt:.3f} | {wt / tt:.1f}× | {wr:.3f} | {tr:.3f} | {wr / tr:.1f}× |")
    shutil.rmtree(work)


def wasmtime_version():
    out = subprocess.run([PYTHON, "-m", "pip", "show", "wasmtime"], stdout=subprocess.PIPE)
    for line in out.stdout.decode().splitlines():
        if line.startswith("Version:"):
            return line.split()[1]
    return "?"


if __name__ == "__main__":
    main(sys.argv[1:])
