"""``plait perf --only mpi`` measures real two-rank tasks through mpiexec."""

from __future__ import annotations

from pathlib import Path

import pytest
from mpi_helpers import require_mpi

from plait.plugins import get_plugins
from plait_executor_mpi.perf import MPIBenchmark

pytestmark = pytest.mark.timeout(180)


def test_the_benchmark_is_registered_and_measures_real_ranks(tmp_path: Path) -> None:
    require_mpi("openmpi")  # what a bare `mpiexec` runs when both are installed
    assert get_plugins().benchmarks.get("mpi") is MPIBenchmark
    figures = MPIBenchmark().run(str(tmp_path))
    assert 0 < figures["mpi_load_to_first_rank_s"] < 60
    assert 0 < figures["mpi_submit_to_first_rank_ms"] < 60_000
    assert figures["mpi_tasks_per_s"] > 0
    assert figures["mpi_implementation"] in ("openmpi", "mpich")
    assert len(list((tmp_path / "stamps").glob("warm*.*"))) == 2 * 10  # two ranks each
