#!/usr/bin/env python3
"""Runs a WASI preview 1 program on wasmtime, as `wrun run` runs it: the
reference side of the real-program corpus (cli/tests/real_programs.rs) and
of its timings (scripts/corpus.sh).

    wasmtime-run.py [--dir HOST[::GUEST]]... [--dir-ro HOST[::GUEST]]...
                    [--env K=V]... [--times] FILE [ARGS...]

Everything after FILE goes to the program (argv[0] is FILE as given, as
in wrun and the wasmtime CLI). stdin, stdout and stderr are this process's; the exit status is the
program's (proc_exit), 128 + 6 after a trap, 2 for a usage error.
`--times` prints `compile_s run_s` on stderr's last line.

wasmtime comes from PyPI's `wasmtime` package (the project's prebuilt
wasmtime C API; version pinned in scripts/wasmtime.sh, which installs it
into target/tools/wasmtime-py).
"""

import sys
import time


def main(argv):
    dirs, envs, times = [], [], False
    i = 0
    while i < len(argv) and argv[i].startswith("--"):
        flag = argv[i]
        if flag == "--times":
            times = True
            i += 1
            continue
        if i + 1 >= len(argv) or flag not in ("--dir", "--dir-ro", "--env"):
            print(f"wasmtime-run: unknown or incomplete option {flag}", file=sys.stderr)
            return 2
        value = argv[i + 1]
        if flag == "--env":
            if "=" not in value:
                print(f"wasmtime-run: --env {value}: expected K=V", file=sys.stderr)
                return 2
            envs.append(value.split("=", 1))
        else:
            host, _, guest = value.partition("::")
            dirs.append((host, guest or host, flag == "--dir"))
        i += 2
    if i >= len(argv):
        print(__doc__.strip().splitlines()[3], file=sys.stderr)
        return 2
    module_path, args = argv[i], argv[i + 1:]

    import wasmtime

    engine = wasmtime.Engine()
    started = time.perf_counter()
    try:
        module = wasmtime.Module.from_file(engine, module_path)
    except Exception as e:  # a module wasmtime refuses: report, not a traceback
        print(f"wasmtime-run: {module_path}: {e}", file=sys.stderr)
        return 1
    compiled = time.perf_counter()

    config = wasmtime.WasiConfig()
    config.argv = [module_path] + args
    config.env = envs
    config.inherit_stdin()
    config.inherit_stdout()
    config.inherit_stderr()
    for host, guest, mutable in dirs:
        config.preopen_dir(host, guest, mutable)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store = wasmtime.Store(engine)
    store.set_wasi(config)

    status = 0
    try:
        instance = linker.instantiate(store, module)
        instance.exports(store)["_start"](store)
    except wasmtime.ExitTrap as e:
        status = e.code
    except (wasmtime.Trap, wasmtime.WasmtimeError) as e:
        # A trap, or a host call wasmtime refuses (it traps on bad guest
        # pointers): the program is stopped as by an abort.
        sys.stdout.flush()
        print(f"wasmtime-run: trap: {e}", file=sys.stderr)
        status = 128 + 6
    finished = time.perf_counter()
    sys.stdout.flush()
    if times:
        print(f"{compiled - started:.6f} {finished - compiled:.6f}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
