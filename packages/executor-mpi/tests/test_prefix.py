"""Launcher prefixes and task variables: right for each MPI and each launcher."""

from __future__ import annotations

import pytest

from plait_executor_mpi.implementation import MPISetup
from plait_executor_mpi.prefix import compose, task_environment
from plait_executor_mpi.resources import MPIRequest

pytestmark = pytest.mark.timeout(10)

REQUEST = MPIRequest(num_nodes=2, num_ranks=6, ranks_per_node=3)
NODES = ["n1", "n2"]


@pytest.mark.parametrize(
    ("setup", "as_root", "prefix"),
    [
        (
            MPISetup("mpiexec", "mpiexec", "openmpi"),
            False,
            "mpiexec -n 6 --host n1:3,n2:3",
        ),
        (
            MPISetup("mpiexec", "mpiexec.openmpi", "openmpi"),
            True,
            "mpiexec.openmpi -n 6 --host n1:3,n2:3 --allow-run-as-root",
        ),
        (
            MPISetup("mpiexec", "mpiexec.mpich", "mpich"),
            True,
            "mpiexec.mpich -n 6 -ppn 3 -hosts n1,n2",
        ),
        (MPISetup("mpirun", "mpirun", "mpich"), False, "mpirun -n 6 -ppn 3 -hosts n1,n2"),
        (MPISetup("mpiexec", "mpiexec", None), False, "mpiexec -n 6 -ppn 3 -hosts n1,n2"),
        (
            MPISetup("srun", "srun", "openmpi"),
            True,
            "srun --nodes=2 --ntasks=6 --ntasks-per-node=3 --nodelist=n1,n2 "
            "--kill-on-bad-exit=1 --mpi=pmix",
        ),
        (
            MPISetup("srun", "srun", "mpich"),
            False,
            "srun --nodes=2 --ntasks=6 --ntasks-per-node=3 --nodelist=n1,n2 "
            "--kill-on-bad-exit=1 --mpi=pmi2",
        ),
        (
            MPISetup("srun", "srun", None),
            False,
            "srun --nodes=2 --ntasks=6 --ntasks-per-node=3 --nodelist=n1,n2 --kill-on-bad-exit=1",
        ),
        (MPISetup("aprun", "aprun", None), False, "aprun -n 6 -N 3 -node-list n1,n2"),
    ],
)
def test_prefix_for_each_launcher_and_mpi(setup: MPISetup, as_root: bool, prefix: str) -> None:
    assert compose(setup, REQUEST, NODES, as_root) == prefix


def test_launcher_options_come_last() -> None:
    request = MPIRequest(1, 2, 2, "--bind-to core --report-bindings")
    prefix = compose(MPISetup("mpiexec", "mpiexec", "openmpi"), request, ["n1"], False)
    assert prefix == "mpiexec -n 2 --host n1:2 --bind-to core --report-bindings"


@pytest.mark.parametrize(
    ("launcher", "parsl_variable"),
    [
        ("mpiexec", "PARSL_MPIEXEC_PREFIX"),
        ("srun", "PARSL_SRUN_PREFIX"),
        ("aprun", "PARSL_APRUN_PREFIX"),
    ],
)
def test_task_variables_under_plait_and_parsl_names(launcher: str, parsl_variable: str) -> None:
    setup = MPISetup(launcher, launcher, "mpich")
    env = task_environment(setup, REQUEST, NODES, False)
    prefix = compose(setup, REQUEST, NODES, False)
    for family in ("PLAIT", "PARSL"):
        assert env[f"{family}_MPI_PREFIX"] == prefix
        assert env[f"{family}_NUM_NODES"] == "2"
        assert env[f"{family}_RANKS_PER_NODE"] == "3"
        assert env[f"{family}_MPI_NODELIST"] == "n1,n2"
    assert env["PLAIT_MPI_NUM_RANKS"] == env["PARSL_NUM_RANKS"] == "6"
    assert env[parsl_variable] == prefix
