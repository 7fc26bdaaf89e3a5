#!/usr/bin/env python3
"""plait's monitoring overhead beside Parsl's, same machine, one run.

Both sides run the measurement of ``plait perf --only monitoring``
(``plait_monitoring.benchmarks``): a workflow per round, a warm-up of ``--warmup``
no-op tasks, then N no-op tasks submitted at once and all waited for (tasks/s), then
the time from the last result to the end of the ``with`` block (exit: for a hub,
writing what is left); rounds without and with the hub, alternating. After each
monitored round the run's rows are counted in its SQLite database, the same check on
both sides (``count_run_rows``: N + warm-up rows in ``task`` and ``try``, task ids
0..N+warm-up-1, every state that appears in ``status`` once per task).

plait   ``plait perf --only monitoring --json`` with one round per call
        (``PLAIT_PERF_MONITORING_*``): the threads executor (2 threads) or HTEX with
        its defaults (one local block, a worker per core); ``MonitoringHub(db_url=
        "sqlite:///...", resource_monitoring_enabled=False)``.
Parsl   this script with ``--side parsl`` in ``/opt/parsl-venv`` (Parsl 2026.10.26 with
        ``parsl[monitoring]``, see setup_parsl_venv.sh): ``parsl_side.py``'s executors
        (``ThreadPoolExecutor(max_threads=2)``; ``HighThroughputExecutor(
        max_workers_per_node=2)`` on one LocalProvider block) and ``MonitoringHub(
        hub_address="127.0.0.1", resource_monitoring_enabled=False, logging_endpoint=
        "sqlite:///...")``; ``initialize_logging=False`` unless ``--parsl-logging``.

For each executor the sides alternate round by round (plait off+on, Parsl off+on,
plait off+on, ...), each round a fresh process; the table gives medians over the
rounds. Raw figures: ``results/monitoring-side.json``::

    uv run --frozen python benchmarks/monitoring_side.py [--rounds 3] \
        [--n-threads 50000] [--n-htex 20000] [--executors threads,htex]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PARSL_PYTHON = "/opt/parsl-venv/bin/python"
EXECUTORS = ("threads", "htex")
DESCRIBED = {
    "threads": "threads, 2 threads",
    "htex": "htex, 1 local block, 2 workers",
}


# -- the Parsl side, run by Parsl's interpreter ----------------------------------------


def parsl_round(
    executor: str,
    n: int,
    warmup: int,
    monitored: bool,
    work: Path,
    logging: bool,
    earlier: list[dict[str, Any]],
) -> dict[str, Any]:
    """One Parsl workflow: ``warmup`` then ``n`` timed no-op tasks, with or without a hub.
    The rows are counted by the orchestrator (``db`` and ``run_id`` in the result)."""
    import parsl
    from parsl.config import Config
    from parsl.monitoring import MonitoringHub

    sys.path.insert(0, str(HERE))
    import parsl_side

    parsl_side.bind_apps(executor)
    tag = f"parsl-{executor}-{time.time_ns()}-{'on' if monitored else 'off'}"
    db = work / f"{tag}.db"
    hub = (
        MonitoringHub(
            hub_address="127.0.0.1",
            resource_monitoring_enabled=False,
            logging_endpoint=f"sqlite:///{db}",
        )
        if monitored
        else None
    )
    config = Config(
        executors=[parsl_side.make_executor(executor)],
        run_dir=str(work / tag),
        initialize_logging=logging,
        monitoring=hub,
    )
    dfk = parsl.load(config)
    watchdog = None
    try:
        with dfk:
            if warmup:
                parsl_side.bench_noop(warmup)
            rate = parsl_side.bench_noop(n)["noop_tasks_per_s"]
            done = time.perf_counter()
            # Parsl's exit can hang for good (its monitoring queue's feeder thread blocked
            # on a pipe nobody reads): report what was measured, and that it hung
            hung = {"monitoring": monitored, "tasks_per_s": rate, "exit_s": None, "hung": True}
            if monitored:
                hung.update(db=str(db), run_id=dfk.run_id)
            watchdog = threading.Timer(EXIT_LIMIT, _report_hang, (earlier, hung))
            watchdog.daemon = True
            watchdog.start()
    finally:
        parsl.clear()
    if watchdog is not None:
        watchdog.cancel()
    result: dict[str, Any] = {
        "monitoring": monitored,
        "tasks_per_s": rate,
        "exit_s": time.perf_counter() - done,
    }
    if monitored:
        result.update(db=str(db), run_id=dfk.run_id)
    return result


#: seconds Parsl's exit may take before the round is reported as hung
EXIT_LIMIT = 60.0


def _report_hang(earlier: list[dict[str, Any]], hung: dict[str, Any]) -> None:
    import parsl

    print(json.dumps({"version": parsl.__version__, "rounds": [*earlier, hung]}), flush=True)
    os._exit(0)


def side_main(args: argparse.Namespace) -> int:
    import parsl

    work = Path(args.work)
    rounds: list[dict[str, Any]] = []
    for monitored in (False, True):
        rounds.append(
            parsl_round(
                args.executor, args.n, args.warmup, monitored, work, args.parsl_logging, rounds
            )
        )
    print(json.dumps({"version": parsl.__version__, "rounds": rounds}))
    return 0


# -- the orchestrator, in plait's environment ------------------------------------------


def last_json(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``cmd``; the JSON object on the last line of its standard output."""
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def plait_rounds(executor: str, n: int, warmup: int) -> tuple[str, list[dict[str, Any]]]:
    """One off round and one on round of ``plait perf --only monitoring``; its version."""
    env = {
        **os.environ,
        "PLAIT_PERF_MONITORING_EXECUTORS": executor,
        "PLAIT_PERF_MONITORING_ROUNDS": "1",
        "PLAIT_PERF_MONITORING_WARMUP": str(warmup),
        f"PLAIT_PERF_MONITORING_N_{executor.upper()}": str(n),
    }
    cmd = [sys.executable, "-m", "plait", "perf", "--only", "monitoring", "--json"]
    report = last_json(cmd, env)
    results = report["results"]
    if executor not in results["monitoring_executors"]:
        raise RuntimeError(
            f"plait skipped {executor}: {results.get(f'monitoring_{executor}_skipped')}"
        )
    rounds: list[dict[str, Any]] = results[f"monitoring_{executor}_rounds"]
    return report["version"], rounds


def parsl_rounds(
    args: argparse.Namespace, executor: str, n: int, work: Path
) -> tuple[str, list[dict[str, Any]]]:
    """One off round and one on round of Parsl, its rows counted here; its version."""
    from plait_monitoring.benchmarks import count_run_rows

    cmd = [args.parsl_python, __file__, "--side", "parsl", "--executor", executor,
           "--n", str(n), "--warmup", str(args.warmup), "--work", str(work)]  # fmt: skip
    if args.parsl_logging:
        cmd.append("--parsl-logging")
    env = {
        **os.environ,
        "PATH": f"{Path(args.parsl_python).parent}{os.pathsep}{os.environ['PATH']}",
    }
    env["PYTHONPATH"] = str(HERE)  # HTEX workers import the apps from parsl_side.py
    report = last_json(cmd, env)
    for r in report["rounds"]:
        if r["monitoring"]:
            db = Path(r.pop("db"))
            r.update(count_run_rows(str(db), r["run_id"], n + args.warmup))
            db.unlink()  # the databases are temporary; free the space as we go
    return report["version"], report["rounds"]


def table(result: dict[str, Any]) -> str:
    meta = result["meta"]
    lines = [
        f"Machine: {meta['cpus']} CPUs ({meta['cpu']}), Python {meta['python']}, "
        f"{meta['platform']}; plait commit {meta['commit']}; Parsl {meta['parsl_version']}; "
        f"median of {meta['rounds']} alternating rounds of {meta['warmup']:,} warm-up + N "
        "no-op tasks; hubs into SQLite, resource monitoring off.",
        "",
        "| | plait | Parsl | plait vs Parsl |",
        "|---|---|---|---|",
    ]
    rows = [
        ("no monitoring (tasks/s)", "off_tasks_per_s", "{:,.0f}", True),
        ("with the hub (tasks/s)", "on_tasks_per_s", "{:,.0f}", True),
        ("overhead", "overhead_pct", "{:.1f}%", None),
        ("`with` exit, no monitoring (s)", "off_exit_s", "{:.3f}", None),
        ("`with` exit with the hub (s)", "on_exit_s", "{:.3f}", None),
        ("status rows per task", "status_rows_per_task", "{:.2f}", None),
        ("every row recorded", "rows_complete", "{}", None),
    ]
    for executor, sides in result["summary"].items():
        n = meta["n"][executor]
        lines.append(f"| **{DESCRIBED[executor]}, N = {n:,}** | | | |")
        for label, key, fmt, higher in rows:
            a, b = sides["plait"][key], sides["parsl"][key]
            ratio = f"{a / b:.1f}x" if higher and b else "-"
            lines.append(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {ratio} |")
    lines.append("")
    for executor, sides in result["summary"].items():
        lines.append(
            f"States recorded ({executor}): plait {', '.join(sides['plait']['states'])}; "
            f"Parsl {', '.join(sides['parsl']['states'])}."
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n-threads", type=int, default=50_000)
    parser.add_argument("--n-htex", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--executors", default=",".join(EXECUTORS))
    parser.add_argument("--parsl-python", default=PARSL_PYTHON)
    parser.add_argument(
        "--parsl-logging", action="store_true", help="Parsl with initialize_logging=True"
    )
    parser.add_argument("--out", default=str(HERE / "results" / "monitoring-side.json"))
    parser.add_argument("--side", choices=["parsl"], help=argparse.SUPPRESS)
    parser.add_argument("--executor", choices=EXECUTORS, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        return side_main(args)

    sys.path.insert(0, str(HERE))
    from side_by_side import cpu_model, plait_commit

    from plait_monitoring.benchmarks import summarize_rounds

    executors = [e.strip() for e in args.executors.split(",") if e.strip()]
    sizes = {"threads": args.n_threads, "htex": args.n_htex}
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    versions: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="monitoring-side-") as tmp:
        work = Path(tmp)
        for executor in executors:
            runs[executor] = {"plait": [], "parsl": []}
            for round_no in range(args.rounds):
                versions["plait"], rounds = plait_rounds(executor, sizes[executor], args.warmup)
                runs[executor]["plait"].extend(rounds)
                print(f"round {round_no + 1} {executor} plait: {brief(rounds)}", file=sys.stderr)
                versions["parsl"], rounds = parsl_rounds(args, executor, sizes[executor], work)
                runs[executor]["parsl"].extend(rounds)
                print(f"round {round_no + 1} {executor} parsl: {brief(rounds)}", file=sys.stderr)
    result = {
        "meta": {
            "commit": plait_commit(),
            "plait_version": versions["plait"],
            "parsl_version": versions["parsl"],
            "cpus": os.cpu_count(),
            "cpu": cpu_model(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "rounds": args.rounds,
            "warmup": args.warmup,
            "n": {e: sizes[e] for e in executors},
            "parsl_logging": args.parsl_logging,
        },
        "summary": {
            e: {side: summarize_rounds(rounds) for side, rounds in sides.items()}
            for e, sides in runs.items()
        },
        "runs": runs,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    return 0


def brief(rounds: list[dict[str, Any]]) -> str:
    return ", ".join(
        f"{'on' if r['monitoring'] else 'off'} {r['tasks_per_s']:,.0f}/s exit "
        + ("hung" if r["exit_s"] is None else f"{r['exit_s']:.2f} s")
        + (f" rows {'ok' if r['rows_complete'] else 'MISSING'}" if r["monitoring"] else "")
        for r in rounds
    )


if __name__ == "__main__":
    sys.exit(main())
