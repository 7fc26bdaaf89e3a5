#!/usr/bin/env python3
"""plait beside Parsl, same benchmarks, same machine, one run.

Alternates ``plait perf --json`` with ``parsl_side.py --json`` (Parsl with its
default logging, and with logging off) for several rounds, takes the median of
each figure, saves the raw reports under ``results/`` and prints a Markdown
table for RESULTS.md. Parsl lives in its own venv (see ``setup_parsl_venv.sh``).

``--executor threads`` (the default): both sides on a 2-thread pool; speed
benchmarks every round, memory in the first. Raw output: results/side-by-side.json.

``--executor htex``: plait's HighThroughputExecutor with its defaults (one local
block, one worker per core) against Parsl's with ``max_workers_per_node=2`` and one
LocalProvider block; speed benchmarks plus startup and the 1 MB echo every round, no
memory. Raw output: results/side-by-side-htex.json.

    uv run python benchmarks/side_by_side.py --rounds 3 [--executor htex]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SPEED = "noop,roundtrip,chain,fan"
#: benchmarks run every round, and those added to the first round only
PLAN = {
    "threads": (SPEED, ",memory"),
    "htex": (SPEED + ",startup,echo", ""),
}
#: how each side's executor is described in the table's header
DESCRIBED = {
    "threads": "threads executor, 2 threads",
    "htex": "htex, 1 local block, 2 workers",
}
FIGURES = [
    ("no-op throughput (tasks/s)", "noop_tasks_per_s", "{:,.0f}", True),
    ("round trip median (ms)", "roundtrip_median_ms", "{:.3f}", False),
    ("chain of 1,000 (s)", "chain_1000_s", "{:.3f}", False),
    ("fan-out 5,000 + fan-in (s)", "fan_5000_s", "{:.3f}", False),
    ("memory retained per finished task (B)", "memory_bytes_per_task", "{:.1f}", False),
    ("load() to first result (s)", "load_to_first_result_s", "{:.3f}", False),
    ("`with` exit (s)", "exit_s", "{:.3f}", False),
    ("1 MB echo (MB/s each way)", "echo_1mb_mb_per_s", "{:,.0f}", True),
]


def busy_cpu_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU seconds of this process's finished (waited-for) descendants."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wait_idle(limit: float, window: float = 3.0, max_wait: float = 1800.0) -> float:
    """Wait until the machine spends less than ``limit`` of one core busy over ``window``
    seconds (nothing of ours runs now); seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < max_wait:
        before = busy_cpu_seconds()
        time.sleep(window)
        if (busy_cpu_seconds() - before) / window < limit:
            break
    return time.monotonic() - start


def run_json(cmd: list[str], idle_limit: float | None = None) -> dict[str, Any]:
    """Run a benchmark command and parse the JSON object it prints. With ``idle_limit``,
    first wait for an idle machine (see ``wait_idle``)."""
    waited = wait_idle(idle_limit) if idle_limit is not None else 0.0
    started, busy0, ours0 = time.time(), busy_cpu_seconds(), children_cpu_seconds()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=1800).stdout
    report: dict[str, Any] = json.loads(out)
    elapsed = time.time() - started
    # when it ran, and how busy the machine was with anything but this benchmark (cores'
    # busy time minus our descendants', per second; ~0 on a quiet machine, roughly, since
    # descendants that are never waited for do not count as ours), so a round disturbed
    # by another process can be told apart
    foreign = (busy_cpu_seconds() - busy0) - (children_cpu_seconds() - ours0)
    report["ran"] = {
        "start": started,
        "end": started + elapsed,
        "waited_for_idle_s": waited,
        "loadavg_1m": os.getloadavg()[0],
        "foreign_cpu_share": foreign / elapsed,
    }
    return report


def commands(args: argparse.Namespace, only: str) -> dict[str, list[str]]:
    """The three systems under test, as command lines."""
    options = ["--executor", args.executor, "--json", "--only", only,
               "--noop-n", str(args.noop_n), "--mem-n", str(args.mem_n)]  # fmt: skip
    plait_cmd = [sys.executable, "-m", "plait", "perf", *options]
    parsl_cmd = [args.parsl_python, str(HERE / "parsl_side.py"), *options]
    return {"plait": plait_cmd, "parsl": parsl_cmd, "parsl-nolog": [*parsl_cmd, "--no-logging"]}


def median_results(reports: list[dict[str, Any]]) -> dict[str, float]:
    """Median of every numeric figure across rounds."""
    keys = {k for r in reports for k, v in r["results"].items() if isinstance(v, int | float)}
    return {
        k: statistics.median(r["results"][k] for r in reports if k in r["results"]) for k in keys
    }


def cpu_model() -> str:
    """The CPU model name, as /proc/cpuinfo gives it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def plait_commit() -> str:
    """The plait commit measured: ``$PLAIT_COMMIT`` when plait is imported from a snapshot
    (e.g. ``git archive`` of one commit on PYTHONPATH), else ``git rev-parse --short
    HEAD`` with ``+dirty`` if packages/ has uncommitted changes."""
    if os.environ.get("PLAIT_COMMIT"):
        return os.environ["PLAIT_COMMIT"]
    git = ["git", "-C", str(HERE.parent)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "packages"], capture_output=True, text=True
    )
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def main() -> int:
    """Run the rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--executor", choices=sorted(PLAN), default="threads")
    parser.add_argument("--noop-n", type=int, default=20_000)
    parser.add_argument("--mem-n", type=int, default=100_000)
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=None,
        metavar="SHARE",
        help="before each command wait until the machine is idle (less than SHARE of one "
        "core busy over 3 s), for shared machines",
    )
    parser.add_argument("--parsl-python", default="/opt/parsl-venv/bin/python")
    parser.add_argument(
        "--out",
        default=None,
        help="raw output (default results/side-by-side.json for threads, "
        "results/side-by-side-<executor>.json otherwise)",
    )
    args = parser.parse_args()
    if args.out is None:
        name = (
            "side-by-side.json"
            if args.executor == "threads"
            else f"side-by-side-{args.executor}.json"
        )
        args.out = str(HERE / "results" / name)
    every_round, first_round = PLAN[args.executor]

    runs: dict[str, list[dict[str, Any]]] = {"plait": [], "parsl": [], "parsl-nolog": []}
    for round_no in range(args.rounds):
        only = every_round + (first_round if round_no == 0 else "")
        for name, cmd in commands(args, only).items():
            print(f"round {round_no + 1}: {name}", file=sys.stderr)
            runs[name].append(run_json(cmd, args.wait_idle))
    medians = {name: median_results(reports) for name, reports in runs.items()}
    meta = {
        "commit": plait_commit(),
        "cpus": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "rounds": args.rounds,
        "executor": args.executor,
        "parsl_version": runs["parsl"][0]["version"],
    }
    Path(args.out).write_text(
        json.dumps({"meta": meta, "runs": runs, "medians": medians}, indent=1)
    )

    print(
        f"Machine: {meta['cpus']} CPUs ({meta['cpu']}), Python {meta['python']}, "
        f"{meta['platform']}; plait commit {meta['commit']}; Parsl {meta['parsl_version']}; "
        f"median of {args.rounds} alternating rounds"
        + (f" (memory: one round of {args.mem_n:,} tasks)" if first_round else "")
        + ".\n"
    )
    print(
        f"| benchmark ({DESCRIBED[args.executor]}) | plait | Parsl (default logging) | "
        "Parsl (logging off) | plait vs Parsl default |"
    )
    print("|---|---|---|---|---|")
    for label, key, fmt, higher_is_better in FIGURES:
        values = [medians[n].get(key) for n in ("plait", "parsl", "parsl-nolog")]
        if all(v is None for v in values):
            continue
        cells = [fmt.format(v) if v is not None else "-" for v in values]
        ratio = "-"
        if values[0] and values[1] and key != "memory_bytes_per_task":
            r = values[0] / values[1] if higher_is_better else values[1] / values[0]
            ratio = f"{r:.1f}x"
        print(f"| {label} | {' | '.join(cells)} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
