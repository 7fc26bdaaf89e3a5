#!/usr/bin/env python3
"""plait and Parsl on one private Slurm cluster, one run: HTEX start-up and status polls.

Starts a private Slurm cluster with the test harness (``plait_provider_slurm.cluster``:
munged, MariaDB, slurmdbd, slurmctld, two emulated nodes of 4 CPUs), points every
command at it through ``SLURM_CONF``, and measures on that one cluster:

startup  ``load()`` to the first result, and the ``with`` exit after it, for HTEX on a
         one-node Slurm block. plait: ``plait perf --config configs/htex_slurm.py
         --only startup --json``. Parsl: its HTEX on its own SlurmProvider
         (``configs/parsl_htex_slurm.py``), timed the same way by this script run
         with Parsl's interpreter (``slurm_side.py parsl-startup``). The two alternate
         for ``--rounds`` rounds, each a new process, so drift hits both alike;
         between runs the queue is left to empty, and whatever a run left in
         ``squeue`` is recorded.
poll     the cost of one status poll of plait's SlurmProvider for ``--jobs`` submitted
         jobs (``sleep`` jobs: 8 run, the rest pend): first one counted poll through
         wrappers of ``sacct`` and ``squeue`` that log each call (it must be one
         ``sacct`` call and no ``squeue``), then ``--polls`` timed polls, and the bare
         ``sacct`` command for the same jobs; the jobs are cancelled after.

The cluster is stopped at the end, also on error or Ctrl-C. Raw numbers go to
``results/slurm-side.json``; a Markdown table is printed. Needs root and Debian's
Slurm, munge and MariaDB packages (``.ci/run`` installs them) and Parsl's venv
(``setup_parsl_venv.sh``)::

    uv run python benchmarks/slurm_side.py [--rounds 5] [--jobs 100] [--wait-idle 0.3]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from side_by_side import cpu_model, plait_commit, run_json  # this directory is on sys.path

if TYPE_CHECKING:
    from plait_provider_slurm.cluster import SlurmCluster

HERE = Path(__file__).resolve().parent
PLAIT_CONFIG = HERE / "configs" / "htex_slurm.py"
PARSL_CONFIG = HERE / "configs" / "parsl_htex_slurm.py"
NODES, CPUS_PER_NODE = 2, 4
SQUEUE_EMPTY_TIMEOUT = 60.0


def spread(values: list[float]) -> dict[str, float]:
    """Median, min and max of some timings."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> float:
    """Poll ``predicate`` every 0.1 s until it holds; seconds it took.

    :raises TimeoutError: it did not hold within ``timeout`` seconds.
    """
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what} not reached within {timeout:g} s")
        time.sleep(0.1)
    return time.monotonic() - start


# -- Parsl's side (run by Parsl's interpreter) ------------------------------------


def _noop() -> None:
    return None


def parsl_startup(config_file: Path) -> dict[str, Any]:
    """``parsl.load(config)`` to the first no-op result, then the ``with`` exit: the same
    definition as ``plait perf --only startup`` and ``parsl_side.py``."""
    import parsl
    from parsl import python_app

    # Parsl starts interchange.py and process_worker_pool.py by name from PATH (the job
    # inherits this environment), as in an activated venv
    bindir = os.path.dirname(sys.executable)
    os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    spec = importlib.util.spec_from_file_location("parsl_slurm_config", config_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    noop = python_app(_noop, executors=["htex-slurm"])
    with tempfile.TemporaryDirectory(prefix="parsl-slurm-") as tmp:
        config = module.fresh_config()
        config.run_dir = tmp
        start = time.perf_counter()
        try:
            with parsl.load(config):
                noop().result()
                first = time.perf_counter()
            done = time.perf_counter()
        finally:
            parsl.clear()
    return {
        "system": "parsl",
        "version": parsl.__version__,
        "executor": config_file.name,
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "results": {"load_to_first_result_s": first - start, "exit_s": done - first},
    }


# -- start-up, both sides ------------------------------------------------------


def startup_commands(parsl_python: str) -> dict[str, list[str]]:
    """The command line of each side's start-up measurement."""
    plait_cmd = [sys.executable, "-m", "plait", "perf", "--config", str(PLAIT_CONFIG)]
    plait_cmd += ["--only", "startup", "--json"]
    parsl_cmd = [parsl_python, str(Path(__file__).resolve()), "parsl-startup"]
    return {"plait": plait_cmd, "parsl": parsl_cmd}


def drain_queue(cluster: SlurmCluster) -> dict[str, Any]:
    """What a finished run left in ``squeue``; then wait for the queue to empty (blocks
    cancelled at exit may show COMPLETING for a few seconds), cancelling leftovers after
    ``SQUEUE_EMPTY_TIMEOUT`` so the next run starts on free nodes."""
    left = cluster.queue()
    try:
        emptied = wait_for(lambda: not cluster.queue(), SQUEUE_EMPTY_TIMEOUT, "an empty queue")
    except TimeoutError:
        cluster.run("scancel", "--user=root", check=False)
        wait_for(lambda: not cluster.queue(), SQUEUE_EMPTY_TIMEOUT, "an empty queue")
        return {"left_in_squeue": left, "cancelled_by_benchmark": True}
    return {"left_in_squeue": left, "queue_empty_after_s": emptied}


def measure_startup(
    cluster: SlurmCluster, rounds: int, parsl_python: str, idle: float | None
) -> dict[str, Any]:
    """Alternate plait's and Parsl's start-up runs; each run's report and the spread."""
    runs: dict[str, list[dict[str, Any]]] = {"plait": [], "parsl": []}
    for round_no in range(rounds):
        for name, cmd in startup_commands(parsl_python).items():
            print(f"startup round {round_no + 1}/{rounds}: {name}", file=sys.stderr, flush=True)
            report = run_json(cmd, idle)
            report["queue"] = drain_queue(cluster)
            runs[name].append(report)
    summary = {}
    for name, reports in runs.items():
        summary[name] = {
            key: spread([r["results"][key] for r in reports])
            for key in ("load_to_first_result_s", "exit_s")
        }
    return {"runs": runs, "summary": summary}


# -- status poll cost ------------------------------------------------------------


@contextlib.contextmanager
def counted_commands(names: tuple[str, ...]) -> Iterator[Path]:
    """Put wrappers of ``names`` first on PATH that log one line per call to the
    returned file, then run the real command."""
    with tempfile.TemporaryDirectory(prefix="slurm-calls-") as tmp:
        log = Path(tmp) / "calls"
        log.touch()
        for name in names:
            real = subprocess.run(["which", name], capture_output=True, text=True).stdout.strip()
            wrapper = Path(tmp) / name
            wrapper.write_text(f'#!/bin/sh\necho {name} >> {log}\nexec {real} "$@"\n')
            wrapper.chmod(0o755)
        previous = os.environ["PATH"]
        os.environ["PATH"] = tmp + os.pathsep + previous
        try:
            yield log
        finally:
            os.environ["PATH"] = previous


def measure_poll(cluster: SlurmCluster, jobs: int, polls: int) -> dict[str, Any]:
    """Submit ``jobs`` jobs with plait's SlurmProvider, time its status poll, cancel them."""
    from plait.launchers import SimpleLauncher
    from plait_provider_slurm import SlurmProvider

    with tempfile.TemporaryDirectory(prefix="slurm-poll-") as tmp:
        # a tiny interval: every status() call polls, none is answered from the cache
        provider = SlurmProvider(
            partition=cluster.partition,
            walltime="00:10:00",
            launcher=SimpleLauncher(),
            script_dir=tmp,
            status_polling_interval=1e-6,
        )
        ids: list[str] = []
        try:
            began = time.perf_counter()
            for i in range(jobs):
                ids.append(provider.submit("sleep 600", 1, f"poll-{i}"))
            submitted = {"submit_s": time.perf_counter() - began}
            return _time_polls(cluster, provider, ids, polls) | submitted
        finally:
            provider.cancel(ids)  # one scancel call for all of them
            wait_for(
                lambda: not set(ids) & set(cluster.queue()),
                SQUEUE_EMPTY_TIMEOUT,
                "the poll benchmark's jobs gone from squeue",
            )


def _time_polls(cluster: SlurmCluster, provider: Any, ids: list[str], polls: int) -> dict[str, Any]:
    sacct = ["sacct", "-X", "-n", "-P", "-o", "JobID,State,ExitCode,Reason"]
    sacct.append(f"--jobs={','.join(ids)}")

    def listed() -> int:
        return len(cluster.run(*sacct).stdout.splitlines())

    # sacct lags sbatch: until it lists every job the provider also asks squeue
    lag = wait_for(lambda: listed() == len(ids), SQUEUE_EMPTY_TIMEOUT, "sacct listing every job")
    provider.status(ids)  # warm-up
    with counted_commands(("sacct", "squeue")) as log:
        provider.status(ids)
        calls = log.read_text().split()
    timings = []
    for _ in range(polls):
        start = time.perf_counter()
        statuses = provider.status(ids)
        timings.append((time.perf_counter() - start) * 1000)
    bare = []
    for _ in range(polls):
        start = time.perf_counter()
        cluster.run(*sacct)
        bare.append((time.perf_counter() - start) * 1000)
    states: dict[str, int] = {}
    for status in statuses:
        states[status.state.name] = states.get(status.state.name, 0) + 1
    return {
        "jobs": len(ids),
        "states": states,
        "status_source": provider.status_source,
        "calls_per_poll": {name: calls.count(name) for name in ("sacct", "squeue")},
        "sacct_listed_all_after_s": lag,
        "poll_ms": spread(timings),
        "bare_sacct_ms": spread(bare),
        "polls": polls,
    }


# -- the run -----------------------------------------------------------------------


def slurm_version(cluster: SlurmCluster) -> str:
    return cluster.run("sinfo", "-V", check=False).stdout.strip()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the cluster, measure, stop the cluster (also on error or Ctrl-C)."""
    from plait_provider_slurm.cluster import SlurmCluster, slurm_environment

    cluster = SlurmCluster(nodes=NODES, cpus_per_node=CPUS_PER_NODE)
    try:
        cluster.start()
        print(f"cluster up in {cluster.start_seconds:.1f} s", file=sys.stderr, flush=True)
        with slurm_environment(cluster):
            startup = measure_startup(cluster, args.rounds, args.parsl_python, args.wait_idle)
            poll = measure_poll(cluster, args.jobs, args.polls)
            meta = machine(cluster, args, startup)
    finally:
        cluster.stop()
    return {"meta": meta, "startup": startup, "poll": poll}


def machine(
    cluster: SlurmCluster, args: argparse.Namespace, startup: dict[str, Any]
) -> dict[str, Any]:
    """What was measured on what, for the record."""
    conf = cluster.conf.read_text().splitlines()
    return {
        "date": time.strftime("%Y-%m-%d"),
        "commit": plait_commit(),
        "cpus": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "slurm": slurm_version(cluster),
        "parsl_version": startup["runs"]["parsl"][0]["version"],
        "cluster": {
            "nodes": NODES,
            "cpus_per_node": CPUS_PER_NODE,
            "accounting": "slurmdbd + MariaDB",
            "start_s": cluster.start_seconds,
            "scheduler_settings": [
                line
                for line in conf
                if line.split("=", 1)[0]
                in ("SchedulerType", "SchedulerParameters", "KillWait", "OverTimeLimit")
            ],
        },
        "rounds": args.rounds,
        "plait_config": str(PLAIT_CONFIG.relative_to(HERE.parent)),
        "parsl_config": str(PARSL_CONFIG.relative_to(HERE.parent)),
    }


def table(report: dict[str, Any]) -> str:
    """The figures as Markdown, for RESULTS.md."""
    s = report["startup"]["summary"]
    p = report["poll"]
    fmt = "{median:.2f} s ({min:.2f}-{max:.2f})"
    plait, parsl = s["plait"]["load_to_first_result_s"], s["parsl"]["load_to_first_result_s"]
    lines = [
        "| HTEX on a one-node Slurm block | plait | Parsl | plait vs Parsl |",
        "|---|---|---|---|",
        f"| load() to first result, median (min-max) | {fmt.format(**plait)} | "
        f"{fmt.format(**parsl)} | {parsl['median'] / plait['median']:.1f}x |",
        f"| `with` exit | {fmt.format(**s['plait']['exit_s'])} | "
        f"{fmt.format(**s['parsl']['exit_s'])} | - |",
        "",
        f"Status poll of {p['jobs']} jobs with plait's SlurmProvider: "
        f"{p['calls_per_poll']['sacct']} sacct call and {p['calls_per_poll']['squeue']} squeue "
        f"calls per poll; {p['poll_ms']['median']:.1f} ms per poll (median of {p['polls']}, "
        f"{p['poll_ms']['min']:.1f}-{p['poll_ms']['max']:.1f}); the bare sacct command "
        f"{p['bare_sacct_ms']['median']:.1f} ms.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=("all", "parsl-startup"), default="all")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--polls", type=int, default=20)
    parser.add_argument("--parsl-python", default="/opt/parsl-venv/bin/python")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=None,
        metavar="SHARE",
        help="before each start-up run wait until the machine is idle (less than SHARE "
        "of one core busy over 3 s), for shared machines",
    )
    parser.add_argument("--out", default=str(HERE / "results" / "slurm-side.json"))
    args = parser.parse_args(argv)
    if args.mode == "parsl-startup":
        print(json.dumps(parsl_startup(PARSL_CONFIG)))
        return 0
    if not os.access(args.parsl_python, os.X_OK):
        parser.error(f"{args.parsl_python} is missing: run benchmarks/setup_parsl_venv.sh first")
    report = run(args)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
