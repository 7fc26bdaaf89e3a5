#!/usr/bin/env python3
"""plait's MPIExecutor beside Parsl's, same MPI, same machine, one run.

Both sides run a trivial two-rank MPI program (C: ``MPI_Init``, note the time,
``MPI_Finalize``; compiled here with ``mpicc.mpich``) from a bash app as
``$PARSL_MPI_PREFIX ./prog`` through MPICH's ``mpiexec``, on one LocalProvider block
that the manager sees as two nodes (this machine under two names: plait reads
``PLAIT_MPI_NODEFILE``, Parsl's manager ``PBS_NODEFILE``; Parsl's MPIExecutor cannot
run without a batch node list), with ``max_workers_per_block=2``. MPICH on both
sides because Parsl's ``mpiexec`` prefix (``-ppn``) fails under Open MPI, which is
also checked and recorded. Figures:

first_rank   seconds from ``load()`` to the first rank running (block start-up
             included), and milliseconds from submitting one task to its first rank
             running on a warm block (median of ``--latency`` tasks, one at a time);
throughput   MPI tasks per second for ``--tasks`` tasks submitted at once.

The sides alternate for ``--rounds`` rounds, each a fresh process (plait in this
interpreter's environment, Parsl in ``/opt/parsl-venv``, see setup_parsl_venv.sh);
medians are reported. Raw numbers: ``results/mpi-side.json``; a Markdown section:
``RESULTS-mpi-draft.md``. Needs MPICH and its compiler wrapper (``apt-get install mpich
libmpich-dev``) and, for the Open MPI check, Open MPI (``openmpi-bin``)::

    uv run python benchmarks/mpi_side.py [--rounds 3] [--tasks 200] [--latency 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PARSL_PYTHON = "/opt/parsl-venv/bin/python"
PROGRAM_SOURCE = r"""
#include <mpi.h>
#include <stdio.h>
#include <time.h>
int main(int argc, char **argv) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (argc > 1) {
        char path[4096];
        snprintf(path, sizeof path, "%s.%d", argv[1], rank);
        FILE *f = fopen(path, "w");
        fprintf(f, "%ld.%09ld\n", (long)now.tv_sec, now.tv_nsec);
        fclose(f);
    }
    MPI_Finalize();
    return 0;
}
"""
SPEC = {"num_nodes": 1, "num_ranks": 2, "ranks_per_node": 2}


# -- one side, run by that side's interpreter ---------------------------------------


def first_rank_time(stamp: str) -> float:
    """The earliest start time the ranks of one task wrote (``stamp.<rank>``)."""
    times = []
    for rank in (0, 1):
        with open(f"{stamp}.{rank}") as f:
            times.append(float(f.read()))
    return min(times)


def measure(side: str, program: str, work: Path, tasks: int, latency: int) -> dict[str, Any]:
    """Run the benchmarks on ``side`` ("plait" or "parsl"); its figures."""
    if side == "plait":
        import plait as lib
        from plait import Config, bash_app
        from plait.launchers import SimpleLauncher
        from plait.providers import LocalProvider
        from plait_executor_mpi import MPIExecutor

        executor: Any = MPIExecutor(
            max_workers_per_block=2,
            mpi_launcher="mpiexec",
            mpi_implementation="mpich",
            provider=LocalProvider(launcher=SimpleLauncher()),
        )
        config: Any = Config(executors=[executor], run_dir=str(work / "runinfo"))
    else:
        import parsl as lib
        from parsl import bash_app
        from parsl.config import Config
        from parsl.executors import MPIExecutor
        from parsl.launchers import SimpleLauncher
        from parsl.providers import LocalProvider

        executor = MPIExecutor(
            max_workers_per_block=2,
            mpi_launcher="mpiexec",
            provider=LocalProvider(launcher=SimpleLauncher()),
        )
        config = Config(executors=[executor], run_dir=str(work / "runinfo"))

    @bash_app
    def run(stamp: str = "", parsl_resource_specification: Any = None) -> str:
        return f"$PARSL_MPI_PREFIX {program} {stamp}"

    stamps = work / "stamps"
    stamps.mkdir()
    began = time.time()
    with lib.load(config):
        run(stamp=str(stamps / "cold"), parsl_resource_specification=SPEC).result(timeout=120)
        load_to_first_rank = first_rank_time(str(stamps / "cold")) - began
        delays = []
        for i in range(latency):
            submitted = time.time()
            run(stamp=str(stamps / f"warm{i}"), parsl_resource_specification=SPEC).result(
                timeout=60
            )
            delays.append(first_rank_time(str(stamps / f"warm{i}")) - submitted)
        start = time.perf_counter()
        futures = [run(parsl_resource_specification=SPEC) for _ in range(tasks)]
        for future in futures:
            future.result(timeout=600)
        elapsed = time.perf_counter() - start
    return {
        "load_to_first_rank_s": load_to_first_rank,
        "submit_to_first_rank_ms": statistics.median(delays) * 1000,
        "mpi_tasks_per_s": tasks / elapsed,
        "tasks": tasks,
    }


def parsl_prefix_under_open_mpi(work: Path, program: str) -> dict[str, Any]:
    """Whether one Parsl MPI task runs when ``mpiexec`` is Open MPI's (its prefix uses
    MPICH's ``-ppn``); the error if not."""
    import parsl
    from parsl import bash_app
    from parsl.config import Config
    from parsl.executors import MPIExecutor
    from parsl.launchers import SimpleLauncher
    from parsl.providers import LocalProvider

    @bash_app
    def run(parsl_resource_specification: Any = None, stderr: str = "") -> str:
        return f"$PARSL_MPI_PREFIX {program}"

    executor = MPIExecutor(
        max_workers_per_block=1, provider=LocalProvider(launcher=SimpleLauncher())
    )
    err = work / "openmpi.stderr"
    with parsl.load(Config(executors=[executor], run_dir=str(work / "runinfo"))):
        try:
            run(parsl_resource_specification=SPEC, stderr=str(err)).result(timeout=120)
            return {"works": True}
        except Exception as exc:  # the failure is the finding
            text = err.read_text() if err.exists() else ""
            lines = text.rpartition("--> end executable <--\n")[2].splitlines()
            return {"works": False, "error": f"{type(exc).__name__}: {exc}", "stderr": lines[:2]}


def side_main(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix=f"mpi-side-{args.side}-"))
    if args.check_open_mpi:
        result = parsl_prefix_under_open_mpi(work, args.program)
    else:
        result = measure(args.side, args.program, work, args.tasks, args.latency)
    print(json.dumps(result))
    return 0


# -- the orchestrator -----------------------------------------------------------------


def compile_program(work: Path) -> str:
    source = work / "trivial_mpi.c"
    source.write_text(PROGRAM_SOURCE)
    binary = work / "trivial_mpi"
    subprocess.run(["mpicc.mpich", "-O2", "-o", str(binary), str(source)], check=True)
    return str(binary)


def environment(work: Path, mpiexec: str) -> dict[str, str]:
    """Two node names for this machine for both managers, and ``mpiexec`` = ``mpiexec``."""
    nodefile = work / "nodes"
    nodefile.write_text(f"{socket.gethostname()}\nlocalhost\n")
    bindir = work / f"bin-{Path(mpiexec).name}"
    bindir.mkdir(exist_ok=True)
    wrapper = bindir / "mpiexec"  # not a symlink: hydra finds its proxy beside argv[0]
    wrapper.write_text(f'#!/bin/sh\nexec {mpiexec} "$@"\n')
    wrapper.chmod(0o755)
    return {
        **os.environ,
        "PLAIT_MPI_NODEFILE": str(nodefile),
        "PBS_NODEFILE": str(nodefile),
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
    }


def run_side(python: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One side's figures, from a fresh ``python`` with its venv's scripts on PATH."""
    env = {**env, "PATH": f"{Path(python).parent}{os.pathsep}{env['PATH']}"}
    out = subprocess.run(
        [python, __file__, *args], env=env, capture_output=True, text=True, timeout=1800
    )
    if out.returncode != 0:
        raise RuntimeError(f"{python} {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def medians(reports: list[dict[str, Any]]) -> dict[str, float]:
    keys = [k for k, v in reports[0].items() if isinstance(v, float)]
    return {k: statistics.median(r[k] for r in reports) for k in keys}


def markdown(result: dict[str, Any]) -> str:
    plait_m, parsl_m = result["plait"]["median"], result["parsl"]["median"]
    rows = [
        ("`load()` to first rank running (s)", "load_to_first_rank_s", "{:.2f}"),
        ("submission to first rank running, warm block (ms)", "submit_to_first_rank_ms", "{:.0f}"),
        ("trivial 2-rank MPI tasks per second", "mpi_tasks_per_s", "{:.1f}"),
    ]
    lines = [
        "## MPI: plait's MPIExecutor beside Parsl's (draft)",
        "",
        f"`benchmarks/mpi_side.py`, {result['rounds']} alternating rounds, medians; "
        f"{result['machine']}; plait {result['plait_commit']}, Parsl {result['parsl_version']}. "
        "A trivial two-rank C program (MPI_Init, note the time, MPI_Finalize) from a bash app "
        "as `$PARSL_MPI_PREFIX ./prog` through MPICH 4.0.2's `mpiexec`, one LocalProvider "
        "block seen as two nodes, `max_workers_per_block=2`; "
        f"{result['tasks']} tasks submitted at once for the rate.",
        "",
        "| | plait | Parsl 2026.10.26 |",
        "|---|---:|---:|",
    ]
    for label, key, fmt in rows:
        lines.append(f"| {label} | {fmt.format(plait_m[key])} | {fmt.format(parsl_m[key])} |")
    check = result["parsl_under_open_mpi"]
    lines += [
        "",
        "Under Open MPI (Debian's default `mpiexec` when both are installed) Parsl's task "
        + (
            "ran."
            if check.get("works")
            else "fails: its prefix passes MPICH's `-ppn` "
            f"(`{' '.join(check.get('stderr', []))[:200]}`); plait builds "
            "`mpiexec -n 2 --host h:2` for Open MPI and runs there too."
        ),
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--latency", type=int, default=20)
    parser.add_argument("--side", choices=["plait", "parsl"], help=argparse.SUPPRESS)
    parser.add_argument("--program", help=argparse.SUPPRESS)
    parser.add_argument("--check-open-mpi", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        return side_main(args)

    sys.path.insert(0, str(HERE))
    from side_by_side import cpu_model, plait_commit

    work = Path(tempfile.mkdtemp(prefix="mpi-side-"))
    program = compile_program(work)
    mpich_env = environment(work, "/usr/bin/mpiexec.mpich")
    common = ["--program", program, "--tasks", str(args.tasks), "--latency", str(args.latency)]
    reports: dict[str, list[dict[str, Any]]] = {"plait": [], "parsl": []}
    for round_ in range(args.rounds):
        for side, python in (("plait", sys.executable), ("parsl", PARSL_PYTHON)):
            report = run_side(python, ["--side", side, *common], mpich_env)
            reports[side].append(report)
            print(f"round {round_ + 1} {side}: {report}", file=sys.stderr)
    parsl_version = subprocess.run(
        [PARSL_PYTHON, "-c", "import parsl; print(parsl.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    openmpi_env = environment(work, "/usr/bin/mpiexec.openmpi")
    openmpi_env["OMPI_ALLOW_RUN_AS_ROOT"] = openmpi_env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    check = run_side(PARSL_PYTHON, ["--side", "parsl", "--check-open-mpi", *common], openmpi_env)
    result = {
        "machine": f"{cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "plait_commit": plait_commit(),
        "parsl_version": parsl_version,
        "rounds": args.rounds,
        "tasks": args.tasks,
        "latency_tasks": args.latency,
        "plait": {"median": medians(reports["plait"]), "runs": reports["plait"]},
        "parsl": {"median": medians(reports["parsl"]), "runs": reports["parsl"]},
        "parsl_under_open_mpi": check,
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "mpi-side.json").write_text(json.dumps(result, indent=2) + "\n")
    section = markdown(result)
    (HERE / "RESULTS-mpi-draft.md").write_text(section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
