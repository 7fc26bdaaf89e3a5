"""MPI tasks through ``srun`` on provider-slurm's private cluster: one block of two
emulated nodes, tasks spanning both, and tasks packed side by side, one per node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mpi_apps
import pytest
from mpi_helpers import TASK_TIMEOUT, require_mpi

import plait
from plait import Config
from plait.dataflow.dflow import DataFlowKernel
from plait.launchers.simple import SimpleLauncher
from plait.testing import wait_until
from plait_executor_mpi import MPIExecutor
from plait_provider_slurm import SlurmProvider
from plait_provider_slurm.cluster import SlurmCluster

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def on_slurm(
    slurm_conf: SlurmCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[MPIExecutor, str]]:
    """An MPIExecutor on one two-node Slurm block with ``srun``, for each MPI; the block
    is cancelled and gone from squeue afterwards."""

    def load(implementation: str) -> MPIExecutor:
        require_mpi(implementation)
        # Open MPI's shared-memory transport crashes across emulated nodes of one host
        monkeypatch.setenv("OMPI_MCA_btl", "self,tcp")
        executor = MPIExecutor(
            label=f"mpi-slurm-{implementation}",
            mpi_launcher="srun",
            mpi_implementation=implementation,
            max_workers_per_block=2,
            heartbeat_period=0.5,
            heartbeat_threshold=5.0,
            provider=SlurmProvider(
                nodes_per_block=2,
                cores_per_node=4,
                init_blocks=1,
                max_blocks=1,
                launcher=SimpleLauncher(),
                status_polling_interval=0.5,
            ),
        )
        kernels.append(plait.load(Config(executors=[executor], run_dir=str(tmp_path / "run"))))
        loaded.append(executor)
        return executor

    loaded: list[MPIExecutor] = []
    kernels: list[DataFlowKernel] = []
    try:
        yield load
    finally:
        for dfk in kernels:
            try:
                dfk.cleanup()
            finally:
                plait.clear()
        jobs = [job for executor in loaded for job in executor.blocks.values() if job]
        wait_until(lambda: not set(jobs) & set(slurm_conf.queue()), 30, 0.1, what="blocks gone")


def node_of_each_rank(out: Path) -> dict[int, str]:
    ranks = {}
    for line in out.read_text().splitlines():
        rank, _, node = line.split()
        ranks[int(rank)] = node
    return ranks


def test_mpich_task_spans_both_nodes(on_slurm, tmp_path: Path) -> None:
    executor = on_slurm("mpich")
    out = tmp_path / "hello.txt"
    spec = {"num_nodes": 2, "ranks_per_node": 2}
    assert mpi_apps.hello(str(out), parsl_resource_specification=spec).result(TASK_TIMEOUT) == 0
    assert node_of_each_rank(out) == {0: "node1", 1: "node1", 2: "node2", 3: "node2"}
    info = mpi_apps.rank_info(parsl_resource_specification=spec).result(TASK_TIMEOUT)
    assert [(rank, size) for rank, size, _ in info] == [(0, 4), (1, 4), (2, 4), (3, 4)]
    env = mpi_apps.environment(parsl_resource_specification=spec).result(TASK_TIMEOUT)
    assert env["PLAIT_MPI_PREFIX"].startswith("srun --nodes=2 --ntasks=4 --ntasks-per-node=2")
    assert "--mpi=pmi2" in env["PLAIT_MPI_PREFIX"] and env["PARSL_SRUN_PREFIX"]
    assert env["PLAIT_MPI_NODELIST"] == "node1,node2"
    assert len(executor.blocks) == 1


@pytest.mark.parametrize("implementation", ["openmpi", "mpich"])
def test_tasks_are_packed_one_per_node(on_slurm, implementation: str, tmp_path: Path) -> None:
    """Two real two-rank tasks run at the same time in one block, each on its own node
    (their rank 0s wait for each other), then the block runs more of them."""
    executor = on_slurm(implementation)
    spec = {"num_nodes": 1, "num_ranks": 2}
    a, b = tmp_path / "a", tmp_path / "b"
    first = mpi_apps.meet_ranks(str(a), str(b), parsl_resource_specification=spec)
    second = mpi_apps.meet_ranks(str(b), str(a), parsl_resource_specification=spec)
    nodes = [first.result(TASK_TIMEOUT), second.result(TASK_TIMEOUT)]
    assert sorted(nodes) == [["node1", "node1"], ["node2", "node2"]]
    outs = [tmp_path / f"hello-{i}.txt" for i in range(4)]
    futures = [mpi_apps.hello(str(o), parsl_resource_specification=spec) for o in outs]
    assert [f.result(TASK_TIMEOUT) for f in futures] == [0, 0, 0, 0]
    for out in outs:
        assert len(set(node_of_each_rank(out).values())) == 1, "a one-node task spanned nodes"
    assert len(executor.blocks) == 1


def test_open_mpi_task_spans_both_nodes(on_slurm, tmp_path: Path) -> None:
    on_slurm("openmpi")
    out = tmp_path / "hello.txt"
    spec = {"num_nodes": 2, "ranks_per_node": 2}
    assert mpi_apps.hello(str(out), parsl_resource_specification=spec).result(TASK_TIMEOUT) == 0
    assert node_of_each_rank(out) == {0: "node1", 1: "node1", 2: "node2", 3: "node2"}
