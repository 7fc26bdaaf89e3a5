#!/usr/bin/env python3
"""Parsl side of the plait-vs-Parsl benchmark.

Runs a fixed set of micro-benchmarks against one Parsl executor so that
Parsl's figures can be recorded next to plait's, measured on the same machine
in the same run.  ``--executor`` chooses it (otherwise a default ``Config``):

threads    ``ThreadPoolExecutor(label='threads', max_threads=2)`` (the default);
htex       ``HighThroughputExecutor(label='htex', max_workers_per_node=2,
           provider=LocalProvider(init_blocks=1, max_blocks=1))``, everything
           else (``encrypted`` included) at Parsl's defaults.

This script imports only Parsl and psutil and is meant to be run with a
separate interpreter that has Parsl installed, e.g.::

    /opt/parsl-venv/bin/python benchmarks/parsl_side.py --json [--executor htex]

Benchmarks (every one runs under its own fresh ``parsl.load`` in a ``with``
block, with ``run_dir`` inside a temporary directory; only the work between
the first submit and the last result is timed, not load or cleanup):

noop       N no-op tasks; tasks/s = N / (first submit -> last result).
roundtrip  200 x (submit one no-op, .result()) after 20 warm-ups;
           median and p90 latency in ms.
chain      1000 tasks, each ``inc`` taking the previous future; seconds.
fan        5000 independent tasks returning an int, then one task summing
           them via ``inputs=futs``; seconds to the fan-in result.
memory     M tasks in batches of 1000, futures dropped after each batch;
           main-process RSS sampled after every 10,000 tasks; bytes per
           finished task = (rss_end - rss_at_10k) / (M - 10000).
startup    seconds from ``parsl.load(config)`` to the first no-op result
           (load_to_first_result_s), and seconds to leave the ``with`` block
           after it (exit_s).  This one times load and cleanup themselves.
echo       a 1 MB ``bytes`` argument returned by the app: one warm-up, then
           20 in a row; MB/s each way = size * 20 / elapsed / 1e6.

With ``--json`` stdout carries a single JSON object and the human table
goes to stderr; without it the table goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import parsl
from parsl import python_app
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.executors.threads import ThreadPoolExecutor
from parsl.providers import LocalProvider

try:
    import psutil
except ImportError:  # pragma: no cover - fall back to /proc
    psutil = None

ALL_BENCHMARKS: tuple[str, ...] = (
    "noop",
    "roundtrip",
    "chain",
    "fan",
    "memory",
    "startup",
    "echo",
)
EXECUTORS: tuple[str, ...] = ("threads", "htex")
ROUNDTRIP_WARMUP = 20
ROUNDTRIP_COUNT = 200
CHAIN_LENGTH = 1000
FAN_WIDTH = 5000
MEM_BATCH = 1000
MEM_SAMPLE_EVERY = 10_000
ECHO_SIZE = 1 << 20
ECHO_COUNT = 20


# --------------------------------------------------------------------------
# Apps.  The plain functions are module-level (so HTEX workers can receive
# them); bind_apps() wraps them as python_apps pinned to the chosen executor's
# label, with no explicit DFK, so each call binds to whichever DataFlowKernel
# is currently loaded.
# --------------------------------------------------------------------------


def _noop() -> None:
    """Do nothing."""
    return None


def _one() -> int:
    """Return the int 1 (a no-op that yields a value for the fan-in)."""
    return 1


def _inc(x: int) -> int:
    """Return ``x + 1``; used to build a dependency chain."""
    return x + 1


def _total(inputs: Sequence[int] = ()) -> int:
    """Sum the (already resolved) values passed through ``inputs``."""
    return sum(inputs)


def _echo(data: bytes) -> bytes:
    """Return the argument unchanged (the 1 MB echo)."""
    return data


noop: Any = None
one: Any = None
inc: Any = None
total: Any = None
echo: Any = None


def bind_apps(label: str) -> None:
    """Make the benchmark apps run on the executor labelled ``label``."""
    global noop, one, inc, total, echo
    noop = python_app(_noop, executors=[label])
    one = python_app(_one, executors=[label])
    inc = python_app(_inc, executors=[label])
    total = python_app(_total, executors=[label])
    echo = python_app(_echo, executors=[label])


# --------------------------------------------------------------------------
# Infrastructure
# --------------------------------------------------------------------------


@dataclass
class Overheads:
    """Wall time spent outside the measured region, per benchmark."""

    load_s: dict[str, float] = field(default_factory=dict)
    cleanup_s: dict[str, float] = field(default_factory=dict)


def make_executor(executor: str) -> Any:
    """The one executor under test: 2 threads, or HTEX with one local block of 2 workers."""
    if executor == "threads":
        return ThreadPoolExecutor(label="threads", max_threads=2)
    if executor == "htex":
        # HTEX starts ``interchange.py`` and ``process_worker_pool.py`` by name from
        # PATH, as in an activated venv: put this interpreter's bin/ first.
        bindir = os.path.dirname(sys.executable)
        if os.environ.get("PATH", "").split(os.pathsep)[0] != bindir:
            os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
        return HighThroughputExecutor(
            label="htex",
            max_workers_per_node=2,
            provider=LocalProvider(init_blocks=1, max_blocks=1),
        )
    raise ValueError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")


def make_config(run_dir: str, logging_enabled: bool, executor: str = "threads") -> Config:
    """Build the benchmark Config: one executor, defaults otherwise."""
    return Config(
        executors=[make_executor(executor)],
        run_dir=run_dir,
        initialize_logging=logging_enabled,
    )


def run_isolated(
    name: str,
    body: Callable[[], dict[str, Any]],
    tmp_root: str,
    logging_enabled: bool,
    overheads: Overheads,
    executor: str = "threads",
) -> dict[str, Any]:
    """Run ``body`` under a freshly loaded DFK and clean it up afterwards.

    The time to load the DFK and the time the ``with`` block takes to exit
    (DFK cleanup) are recorded in ``overheads`` but are not part of the
    benchmark figure itself.
    """
    config = make_config(os.path.join(tmp_root, f"runinfo-{name}"), logging_enabled, executor)
    t_load = time.perf_counter()
    dfk = parsl.load(config)
    overheads.load_s[name] = time.perf_counter() - t_load
    try:
        with dfk:
            result = body()
            t_exit = time.perf_counter()
    finally:
        parsl.clear()  # already done by cleanup; harmless if cleanup failed
    overheads.cleanup_s[name] = time.perf_counter() - t_exit
    return result


def rss_bytes() -> int:
    """Return the resident set size of this process in bytes."""
    if psutil is not None:
        return int(psutil.Process().memory_info().rss)
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile ``q`` (0..100) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


# --------------------------------------------------------------------------
# Benchmarks (each runs inside a loaded DFK)
# --------------------------------------------------------------------------


def bench_noop(n: int) -> dict[str, Any]:
    """Submit ``n`` no-op tasks, wait for all; report tasks per second."""
    t0 = time.perf_counter()
    futs = [noop() for _ in range(n)]
    for f in futs:
        f.result()
    elapsed = time.perf_counter() - t0
    return {"noop_tasks_per_s": n / elapsed, "noop_n": n}


def bench_roundtrip() -> dict[str, Any]:
    """Time single submit->result round trips; report median and p90 (ms)."""
    for _ in range(ROUNDTRIP_WARMUP):
        noop().result()
    samples: list[float] = []
    for _ in range(ROUNDTRIP_COUNT):
        t0 = time.perf_counter()
        noop().result()
        samples.append((time.perf_counter() - t0) * 1000.0)
    return {
        "roundtrip_median_ms": statistics.median(samples),
        "roundtrip_p90_ms": percentile(samples, 90),
    }


def bench_chain() -> dict[str, Any]:
    """Build a chain of dependent ``inc`` tasks; report seconds to the end."""
    t0 = time.perf_counter()
    fut = inc(0)
    for _ in range(CHAIN_LENGTH - 1):
        fut = inc(fut)
    value = fut.result()
    elapsed = time.perf_counter() - t0
    if value != CHAIN_LENGTH:
        raise RuntimeError(f"chain produced {value}, expected {CHAIN_LENGTH}")
    return {"chain_1000_s": elapsed}


def bench_fan() -> dict[str, Any]:
    """Fan out independent tasks, fan them in with one summing task."""
    t0 = time.perf_counter()
    futs = [one() for _ in range(FAN_WIDTH)]
    value = total(inputs=futs).result()
    elapsed = time.perf_counter() - t0
    if value != FAN_WIDTH:
        raise RuntimeError(f"fan-in produced {value}, expected {FAN_WIDTH}")
    return {"fan_5000_s": elapsed}


def bench_memory(m: int) -> dict[str, Any]:
    """Run ``m`` tasks in dropped batches and track main-process RSS."""
    if m < 2 * MEM_SAMPLE_EVERY or m % MEM_SAMPLE_EVERY:
        raise ValueError(
            f"--mem-n must be a multiple of {MEM_SAMPLE_EVERY} and >= {2 * MEM_SAMPLE_EVERY}"
        )
    curve: list[list[int]] = []
    done = 0
    while done < m:
        batch = [noop() for _ in range(MEM_BATCH)]
        for f in batch:
            f.result()
        del batch
        done += MEM_BATCH
        if done % MEM_SAMPLE_EVERY == 0:
            curve.append([done, rss_bytes()])
    first, last = curve[0][1], curve[-1][1]
    return {
        "memory_n": m,
        "memory_bytes_per_task": (last - first) / (m - MEM_SAMPLE_EVERY),
        "memory_curve": curve,
    }


def bench_echo() -> dict[str, Any]:
    """A 1 MB argument out and back, one task at a time; MB/s each way."""
    data = os.urandom(ECHO_SIZE)
    echo(data).result()  # warm-up
    t0 = time.perf_counter()
    for _ in range(ECHO_COUNT):
        if len(echo(data).result()) != ECHO_SIZE:
            raise RuntimeError("echo returned the wrong number of bytes")
    elapsed = time.perf_counter() - t0
    return {"echo_1mb_mb_per_s": ECHO_SIZE * ECHO_COUNT / elapsed / 1e6}


def bench_startup(tmp_root: str, logging_enabled: bool, executor: str) -> dict[str, Any]:
    """``parsl.load(config)`` to the first result, then leaving the ``with`` block."""
    config = make_config(os.path.join(tmp_root, "runinfo-startup"), logging_enabled, executor)
    t0 = time.perf_counter()
    try:
        with parsl.load(config):
            noop().result()
            first = time.perf_counter()
        done = time.perf_counter()
    finally:
        parsl.clear()
    return {"load_to_first_result_s": first - t0, "exit_s": done - first}


# --------------------------------------------------------------------------
# Driver and reporting
# --------------------------------------------------------------------------


def select_benchmarks(only: str | None) -> list[str]:
    """Parse ``--only`` into an ordered list of benchmark names."""
    if not only:
        return list(ALL_BENCHMARKS)
    wanted = [w.strip() for w in only.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in ALL_BENCHMARKS]
    if unknown:
        raise SystemExit(
            f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(ALL_BENCHMARKS)}"
        )
    return [b for b in ALL_BENCHMARKS if b in wanted]


def run_all(args: argparse.Namespace) -> tuple[dict[str, Any], Overheads]:
    """Run the selected benchmarks, each under a fresh DFK."""
    bodies: dict[str, Callable[[], dict[str, Any]]] = {
        "noop": lambda: bench_noop(args.noop_n),
        "roundtrip": bench_roundtrip,
        "chain": bench_chain,
        "fan": bench_fan,
        "memory": lambda: bench_memory(args.mem_n),
        "echo": bench_echo,
    }
    bind_apps(args.executor)
    logging_enabled = not args.no_logging
    results: dict[str, Any] = {}
    overheads = Overheads()
    with tempfile.TemporaryDirectory(prefix="parsl-side-") as tmp_root:
        for name in select_benchmarks(args.only):
            if name == "startup":
                results.update(bench_startup(tmp_root, logging_enabled, args.executor))
            else:
                results.update(
                    run_isolated(
                        name, bodies[name], tmp_root, logging_enabled, overheads, args.executor
                    )
                )
    return results, overheads


def build_report(results: dict[str, Any], executor: str = "threads") -> dict[str, Any]:
    """Wrap the results in the agreed JSON envelope."""
    return {
        "system": "parsl",
        "version": parsl.__version__,
        "executor": executor,
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "results": results,
    }


def format_table(report: dict[str, Any], overheads: Overheads, logging_enabled: bool) -> str:
    """Render a human-readable summary of the report."""
    r = report["results"]
    rows: list[tuple[str, str]] = []
    if "noop_tasks_per_s" in r:
        rows.append((f"noop ({r['noop_n']} tasks)", f"{r['noop_tasks_per_s']:.0f} tasks/s"))
    if "roundtrip_median_ms" in r:
        rows.append(("roundtrip median", f"{r['roundtrip_median_ms']:.3f} ms"))
        rows.append(("roundtrip p90", f"{r['roundtrip_p90_ms']:.3f} ms"))
    if "chain_1000_s" in r:
        rows.append(("chain of 1000", f"{r['chain_1000_s']:.3f} s"))
    if "fan_5000_s" in r:
        rows.append(("fan 5000 -> 1", f"{r['fan_5000_s']:.3f} s"))
    if "memory_bytes_per_task" in r:
        rows.append(
            (f"memory ({r['memory_n']} tasks)", f"{r['memory_bytes_per_task']:.1f} bytes/task")
        )
        curve = ", ".join(f"{n // 1000}k:{rss / 2**20:.1f}MiB" for n, rss in r["memory_curve"])
        rows.append(("  rss curve", curve))
    if "load_to_first_result_s" in r:
        rows.append(("load -> first result", f"{r['load_to_first_result_s']:.3f} s"))
        rows.append(("with-block exit", f"{r['exit_s']:.3f} s"))
    if "echo_1mb_mb_per_s" in r:
        rows.append(("1 MB echo", f"{r['echo_1mb_mb_per_s']:.0f} MB/s each way"))
    for name in overheads.load_s:
        rows.append(
            (
                f"  [{name}] load / cleanup",
                f"{overheads.load_s[name]:.3f} s / "
                f"{overheads.cleanup_s.get(name, float('nan')):.3f} s",
            )
        )
    width = max(len(k) for k, _ in rows) if rows else 0
    m = report["machine"]
    described = {
        "threads": "threads(max_threads=2)",
        "htex": "htex(max_workers_per_node=2, LocalProvider 1 block)",
    }
    executor = described.get(report["executor"], report["executor"])
    head = (
        f"parsl {report['version']} executor={executor} "
        f"logging={'on' if logging_enabled else 'off'} python {report['python']} "
        f"cpus={m['cpus']} {m['platform']}"
    )
    return "\n".join([head] + [f"{k:<{width}}  {v}" for k, v in rows])


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line interface."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--executor", choices=EXECUTORS, default="threads", help="the Parsl executor under test"
    )
    p.add_argument("--only", help=f"comma-separated subset of: {','.join(ALL_BENCHMARKS)}")
    p.add_argument(
        "--noop-n", type=int, default=5000, help="tasks in the noop benchmark (default 5000)"
    )
    p.add_argument(
        "--mem-n", type=int, default=100_000, help="tasks in the memory benchmark (default 100000)"
    )
    p.add_argument("--no-logging", action="store_true", help="Config(initialize_logging=False)")
    p.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout (table goes to stderr)"
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    results, overheads = run_all(args)
    report = build_report(results, args.executor)
    table = format_table(report, overheads, not args.no_logging)
    if args.json:
        print(table, file=sys.stderr)
        print(json.dumps(report))
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
