"""plait's MPIExecutor: HTEX managers that pack MPI tasks onto a block's nodes, the
``mpi_python_app`` decorator, and the ``mpiexec``/``mpirun``/``aprun``/``jsrun`` launchers."""

from plait_executor_mpi.__about__ import __version__
from plait_executor_mpi.errors import MPIExitFailure, MPISetupError, NotEnoughNodes, RankFailure
from plait_executor_mpi.executor import MPIExecutor
from plait_executor_mpi.launchers import (
    AprunLauncher,
    JsrunLauncher,
    MpiExecLauncher,
    MpiRunLauncher,
)
from plait_executor_mpi.ranks import mpi_python_app

__all__ = [
    "AprunLauncher",
    "JsrunLauncher",
    "MPIExecutor",
    "MPIExitFailure",
    "MPISetupError",
    "MpiExecLauncher",
    "MpiRunLauncher",
    "NotEnoughNodes",
    "RankFailure",
    "__version__",
    "mpi_python_app",
]
