#!/usr/bin/env python3
"""plait beside Parsl, same benchmarks, same machine, one run.

Alternates ``plait perf --json`` with ``parsl_side.py --json`` (Parsl with its
default logging, and with logging off) for several rounds, takes the median of
each figure, saves the raw reports under ``results/`` and prints a Markdown
table for RESULTS.md. Parsl lives in its own venv (see ``setup_parsl_venv.sh``).

    uv run python benchmarks/side_by_side.py --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SPEED = "noop,roundtrip,chain,fan"
FIGURES = [
    ("no-op throughput (tasks/s)", "noop_tasks_per_s", "{:,.0f}", True),
    ("round trip median (ms)", "roundtrip_median_ms", "{:.3f}", False),
    ("chain of 1,000 (s)", "chain_1000_s", "{:.3f}", False),
    ("fan-out 5,000 + fan-in (s)", "fan_5000_s", "{:.3f}", False),
    ("memory retained per finished task (B)", "memory_bytes_per_task", "{:.1f}", False),
]


def run_json(cmd: list[str]) -> dict[str, Any]:
    """Run a benchmark command and parse the JSON object it prints."""
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=1800).stdout
    report: dict[str, Any] = json.loads(out)
    return report


def commands(args: argparse.Namespace, only: str) -> dict[str, list[str]]:
    """The three systems under test, as command lines."""
    plait_cmd = [
        sys.executable,
        "-m",
        "plait",
        "perf",
        "--json",
        "--only",
        only,
        "--noop-n",
        str(args.noop_n),
        "--mem-n",
        str(args.mem_n),
    ]
    parsl_cmd = [
        args.parsl_python,
        str(HERE / "parsl_side.py"),
        "--json",
        "--only",
        only,
        "--noop-n",
        str(args.noop_n),
        "--mem-n",
        str(args.mem_n),
    ]
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


def main() -> int:
    """Run the rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--noop-n", type=int, default=20_000)
    parser.add_argument("--mem-n", type=int, default=100_000)
    parser.add_argument("--parsl-python", default="/opt/parsl-venv/bin/python")
    parser.add_argument("--out", default=str(HERE / "results" / "side-by-side.json"))
    args = parser.parse_args()

    runs: dict[str, list[dict[str, Any]]] = {"plait": [], "parsl": [], "parsl-nolog": []}
    for round_no in range(args.rounds):
        only = SPEED + (",memory" if round_no == 0 else "")
        for name, cmd in commands(args, only).items():
            print(f"round {round_no + 1}: {name}", file=sys.stderr)
            runs[name].append(run_json(cmd))
    medians = {name: median_results(reports) for name, reports in runs.items()}
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    meta = {
        "commit": git.stdout.strip(),
        "cpus": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "rounds": args.rounds,
        "parsl_version": runs["parsl"][0]["version"],
    }
    Path(args.out).write_text(
        json.dumps({"meta": meta, "runs": runs, "medians": medians}, indent=1)
    )

    print(
        f"Machine: {meta['cpus']} CPUs ({meta['cpu']}), Python {meta['python']}, "
        f"{meta['platform']}; plait commit {meta['commit']}; Parsl {meta['parsl_version']}; "
        f"median of {args.rounds} alternating rounds (memory: one round of {args.mem_n:,} tasks).\n"
    )
    print(
        "| benchmark (threads executor, 2 threads) | plait | Parsl (default logging) | "
        "Parsl (logging off) | plait vs Parsl default |"
    )
    print("|---|---|---|---|---|")
    for label, key, fmt, higher_is_better in FIGURES:
        values = [medians[n].get(key) for n in ("plait", "parsl", "parsl-nolog")]
        cells = [fmt.format(v) if v is not None else "-" for v in values]
        ratio = "-"
        if values[0] and values[1] and key != "memory_bytes_per_task":
            r = values[0] / values[1] if higher_is_better else values[1] / values[0]
            ratio = f"{r:.1f}x"
        print(f"| {label} | {' | '.join(cells)} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
