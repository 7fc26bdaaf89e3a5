"""The ``mpi`` entry point: registers the executor and the MPI launchers, importing
nothing heavy."""

from __future__ import annotations

from typing import Any

import plait


@plait.hookimpl
def plait_register_executors(registry: Any) -> None:
    """``mpi``: :class:`~plait_executor_mpi.executor.MPIExecutor`."""
    from plait_executor_mpi.executor import MPIExecutor

    registry.add(MPIExecutor)


@plait.hookimpl
def plait_register_launchers(registry: Any) -> None:
    """``mpiexec``, ``mpirun``, ``aprun`` and ``jsrun``: :mod:`plait_executor_mpi.launchers`."""
    from plait_executor_mpi.launchers import (
        AprunLauncher,
        JsrunLauncher,
        MpiExecLauncher,
        MpiRunLauncher,
    )

    for launcher in (MpiExecLauncher, MpiRunLauncher, AprunLauncher, JsrunLauncher):
        registry.add(launcher)


@plait.hookimpl
def plait_register_benchmarks(registry: Any) -> None:
    """``plait perf --only mpi``: :class:`~plait_executor_mpi.perf.MPIBenchmark`."""
    from plait_executor_mpi.perf import MPIBenchmark

    registry.add(MPIBenchmark)
