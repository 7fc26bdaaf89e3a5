"""``plait perf --only mpi``: how fast MPI tasks start and run through ``mpiexec``.

A trivial two-rank program (each rank writes the time it started) runs as a bash
app with ``$PARSL_MPI_PREFIX``, on one local block of two workers, with whichever
MPI ``mpiexec`` belongs to. ``benchmarks/mpi_side.py`` runs the same measurement
against Parsl's MPIExecutor.
"""

from __future__ import annotations

import glob
import os
import statistics
import time
from typing import Any

from plait import Config, bash_app, load
from plait.benchmarks import Benchmark
from plait.launchers.simple import SimpleLauncher
from plait.providers.local import LocalProvider
from plait_executor_mpi.executor import MPIExecutor

#: two ranks on the block's one node
SPEC = {"num_nodes": 1, "num_ranks": 2}
#: tasks timed one by one from submission to their first rank, and run at once for the rate
LATENCY_TASKS = 10
RATE_TASKS = 100


@bash_app
def stamp_ranks(stamp: str = "", parsl_resource_specification: Any = None) -> str:
    """Each rank writes when it started to ``<stamp>.<rank>`` (nothing without a stamp)."""
    if not stamp:
        return "$PARSL_MPI_PREFIX true"
    rank = "${PMI_RANK:-${OMPI_COMM_WORLD_RANK:-0}}"
    return f"$PARSL_MPI_PREFIX sh -c 'date +%s.%N > \"$0.{rank}\"' {stamp}"


def first_rank(stamp: str) -> float:
    """When the first rank of the task that wrote ``stamp.*`` started (``time.time()``)."""
    times = []
    for path in glob.glob(f"{stamp}.*"):
        with open(path) as f:
            times.append(float(f.read()))
    if not times:
        raise RuntimeError(f"no rank wrote {stamp}.<rank>")
    return min(times)


class MPIBenchmark(Benchmark):
    """Load to first rank, submission to first rank on a warm block, and 2-rank tasks/s."""

    plugin_name = "mpi"
    description = "MPIExecutor: load() and submit to first rank, 2-rank mpiexec tasks/s"
    labels = {
        "mpi_load_to_first_rank_s": ("load() to first MPI rank", "{:.3f} s"),
        "mpi_submit_to_first_rank_ms": ("submit to first rank (warm)", "{:.1f} ms"),
        "mpi_tasks_per_s": ("2-rank MPI tasks", "{:.1f} tasks/s"),
    }

    def run(self, work_dir: str) -> dict[str, Any]:
        """One workflow on one local block; everything under ``work_dir``."""
        executor = MPIExecutor(
            max_workers_per_block=2, provider=LocalProvider(launcher=SimpleLauncher())
        )
        stamps = os.path.join(work_dir, "stamps")
        os.makedirs(stamps)
        began = time.time()
        with load(Config(executors=[executor], run_dir=os.path.join(work_dir, "runinfo"))):
            cold = os.path.join(stamps, "cold")
            stamp_ranks(cold, parsl_resource_specification=SPEC).result(timeout=120)
            load_to_first = first_rank(cold) - began
            delays = []
            for i in range(LATENCY_TASKS):
                warm = os.path.join(stamps, f"warm{i}")
                submitted = time.time()
                stamp_ranks(warm, parsl_resource_specification=SPEC).result(timeout=60)
                delays.append(first_rank(warm) - submitted)
            start = time.perf_counter()
            futures = [
                stamp_ranks(parsl_resource_specification=SPEC) for _ in range(RATE_TASKS)
            ]
            for future in futures:
                future.result(timeout=600)
            elapsed = time.perf_counter() - start
        return {
            "mpi_load_to_first_rank_s": load_to_first,
            "mpi_submit_to_first_rank_ms": statistics.median(delays) * 1000,
            "mpi_tasks_per_s": RATE_TASKS / elapsed,
            "mpi_implementation": executor.setup.implementation if executor.setup else None,
        }
