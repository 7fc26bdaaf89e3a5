"""Helpers for the MPI tests: which MPIs are installed, and a process watcher.

Imported by ``conftest.py`` and the test modules as the top-level module
``mpi_helpers`` (``conftest.py`` puts this directory on ``sys.path``).
"""

from __future__ import annotations

import os
import shutil

import pytest

from plait import testing

#: how long an ordinary MPI task may take (start-up of a block included)
TASK_TIMEOUT = 60.0
HB_PERIOD = 0.5
HB_THRESHOLD = 5.0

#: the Debian launcher of each implementation, and the package that installs it
LAUNCHERS = {"openmpi": ("mpiexec.openmpi", "openmpi-bin"), "mpich": ("mpiexec.mpich", "mpich")}

#: command-line fragments of the processes an MPI test starts
MARKERS = (
    "plait_executor_mpi",
    "plait-mpi-manager",
    "plait_executor_htex",
    "orterun",
    "mpiexec",
    "hydra_pmi_proxy",
    "mpi_hello.py",
    "plait-mpi-test-sleep",
)


def require_mpi(implementation: str) -> None:
    """Skip (or, with ``PLAIT_REQUIRE_MPI`` set, as CI does, fail) unless the
    implementation's launcher is installed."""
    program, package = LAUNCHERS[implementation]
    if shutil.which(program) is None:
        reason = f"{program} is not installed (apt-get install {package})"
        if os.environ.get("PLAIT_REQUIRE_MPI"):
            pytest.fail(f"PLAIT_REQUIRE_MPI is set but {reason}")
        pytest.skip(reason)


class ProcessWatch(testing.ProcessWatch):
    """Records every MPI-test process descending from this test process."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(MARKERS, interval)


def assert_no_survivors(watch: ProcessWatch, grace: float = 5.0) -> None:
    """Every MPI-test process seen is gone (within ``grace`` seconds)."""
    testing.assert_no_survivors(watch, grace, what="MPI-test processes")
