"""Fixtures for the MPI tests: real managers, workers and ranks on this machine, and
provider-slurm's private Slurm cluster for the tests across emulated nodes.

The apps live in ``mpi_apps.py`` next to this file; workers import them by name, so
this directory goes on ``sys.path`` here and on the ``PYTHONPATH`` that managers,
workers and ranks inherit (Slurm jobs too).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from mpi_helpers import (  # noqa: E402
    HB_PERIOD,
    HB_THRESHOLD,
    ProcessWatch,
    assert_no_survivors,
    require_mpi,
)

import plait  # noqa: E402
from plait import Config  # noqa: E402
from plait.dataflow.dflow import DataFlowKernel  # noqa: E402
from plait_executor_mpi import MPIExecutor  # noqa: E402
from plait_provider_slurm.testing import slurm_cluster, slurm_conf  # noqa: E402

__all__ = ["slurm_cluster", "slurm_conf"]


@pytest.fixture(autouse=True)
def tests_on_pythonpath(monkeypatch: pytest.MonkeyPatch) -> None:
    """Managers, workers and ranks inherit this environment: let them import ``mpi_apps``."""
    existing = os.environ.get("PYTHONPATH")
    value = str(TESTS_DIR) if not existing else os.pathsep.join([str(TESTS_DIR), existing])
    monkeypatch.setenv("PYTHONPATH", value)


@pytest.fixture(params=["openmpi", "mpich"])
def implementation(request: pytest.FixtureRequest) -> str:
    """Each MPI implementation in turn (skipped, or failed under PLAIT_REQUIRE_MPI, where
    it is not installed)."""
    name: str = request.param
    require_mpi(name)
    return name


@pytest.fixture
def process_watch() -> Iterator[ProcessWatch]:
    watch = ProcessWatch()
    try:
        yield watch
    finally:
        watch.stop()


@pytest.fixture
def mpi_kernel(
    tmp_path: Path, process_watch: ProcessWatch
) -> Iterator[Callable[..., tuple[DataFlowKernel, MPIExecutor]]]:
    """``mpi_kernel(executor=None, **executor_options)``: load a kernel on an MPIExecutor
    (fast heartbeats). Every kernel is cleaned up after the test; then no manager,
    worker, launcher or rank started during the test may be left."""
    loaded: list[DataFlowKernel] = []

    def load(
        executor: MPIExecutor | None = None, **options: Any
    ) -> tuple[DataFlowKernel, MPIExecutor]:
        options.setdefault("heartbeat_period", HB_PERIOD)
        options.setdefault("heartbeat_threshold", HB_THRESHOLD)
        executor = executor or MPIExecutor(**options)
        dfk = plait.load(Config(executors=[executor], run_dir=str(tmp_path / "runinfo")))
        loaded.append(dfk)
        return dfk, executor

    try:
        yield load
    finally:
        for dfk in loaded:
            try:
                dfk.cleanup()
            finally:
                plait.clear()
    assert_no_survivors(process_watch)
