"""Real MPI tasks on this machine, under Open MPI and under MPICH: ranks, variables,
mpi_python_app, failures, and several tasks packed onto one block's nodes."""

from __future__ import annotations

import socket
from pathlib import Path

import mpi_apps
import pytest
from mpi_helpers import TASK_TIMEOUT, require_mpi

from plait.testing import wait_until
from plait_executor_mpi import MPIExecutor, MPIExitFailure, NotEnoughNodes, RankFailure

pytestmark = pytest.mark.timeout(180)

HOST = socket.gethostname()


def spec(num_nodes: int = 1, **counts: int) -> dict[str, dict[str, int]]:
    return {"parsl_resource_specification": {"num_nodes": num_nodes, **counts}}


def test_bash_app_runs_the_ranks_with_the_prefix_for_this_mpi(
    mpi_kernel, implementation: str, tmp_path: Path
) -> None:
    _, executor = mpi_kernel(mpi_implementation=implementation, max_workers_per_block=2)
    out = tmp_path / "hello.txt"
    assert mpi_apps.hello(str(out), **spec(num_ranks=3)).result(timeout=TASK_TIMEOUT) == 0
    lines = sorted(out.read_text().splitlines())
    assert lines == [f"0 3 {HOST}", f"1 3 {HOST}", f"2 3 {HOST}"]
    assert executor.setup is not None and executor.setup.implementation == implementation

    env = mpi_apps.environment(**spec(ranks_per_node=2)).result(timeout=TASK_TIMEOUT)
    flag = "--host" if implementation == "openmpi" else "-ppn"
    assert flag in env["PLAIT_MPI_PREFIX"] and env["PARSL_MPI_PREFIX"] == env["PLAIT_MPI_PREFIX"]
    assert env["PARSL_MPIEXEC_PREFIX"] == env["PLAIT_MPI_PREFIX"]
    assert env["PLAIT_MPI_NUM_RANKS"] == env["PARSL_NUM_RANKS"] == "2"
    assert env["PLAIT_NUM_NODES"] == env["PARSL_NUM_NODES"] == "1"
    assert env["PLAIT_RANKS_PER_NODE"] == env["PARSL_RANKS_PER_NODE"] == "2"
    assert env["PLAIT_MPI_NODELIST"] == env["PARSL_MPI_NODELIST"] == HOST


def test_mpi_python_app_runs_on_every_rank(mpi_kernel, implementation: str) -> None:
    mpi_kernel(mpi_implementation=implementation)
    assert mpi_apps.rank_sum(10, **spec(num_ranks=4)).result(timeout=TASK_TIMEOUT) == 60
    info = mpi_apps.rank_info(**spec(ranks_per_node=3)).result(timeout=TASK_TIMEOUT)
    assert info == [(0, 3, HOST), (1, 3, HOST), (2, 3, HOST)]


def test_failing_rank_fails_the_task_and_frees_the_nodes(
    mpi_kernel, implementation: str, tmp_path: Path
) -> None:
    """One worker and one node: the task after a failed one can only run if the failure
    gave the node back."""
    mpi_kernel(mpi_implementation=implementation, max_workers_per_block=1)
    failing = mpi_apps.hello(str(tmp_path / "a.txt"), "fail", **spec(num_ranks=2))
    with pytest.raises(MPIExitFailure) as info:
        failing.result(timeout=TASK_TIMEOUT)
    assert info.value.exitcode == 7
    assert "failed with unix exit code 7" in str(info.value)
    assert "rank 1 is failing on purpose" in str(info.value)
    assert "rank 1 is failing on purpose" in info.value.stderr_tail

    with pytest.raises(mpi_apps.RankError, match="rank 1 says no") as raised:
        mpi_apps.raise_on(1, **spec(num_ranks=3)).result(timeout=TASK_TIMEOUT)
    assert "raised on MPI rank 1 of 3" in raised.value.__notes__

    with pytest.raises(RankFailure) as crashed:
        mpi_apps.crash_on(1, **spec(num_ranks=2)).result(timeout=TASK_TIMEOUT)
    assert crashed.value.exitcode != 0 and crashed.value.num_ranks == 2
    assert "rank 1 crashing now" in str(crashed.value)

    out = tmp_path / "after.txt"
    assert mpi_apps.hello(str(out), **spec(num_ranks=2)).result(timeout=TASK_TIMEOUT) == 0
    assert len(out.read_text().splitlines()) == 2


def test_cancelling_a_running_task_kills_its_ranks_and_frees_its_node(
    mpi_kernel, implementation: str, tmp_path: Path
) -> None:
    """One worker, one node: once the ranks of a cancelled task are gone, the node
    serves the next task (and the fixture finds no rank left afterwards)."""
    mpi_kernel(mpi_implementation=implementation, max_workers_per_block=1)
    started = tmp_path / "started"
    running = mpi_apps.ranks_sleep(str(started), **spec(num_ranks=2))
    wait_until(lambda: len(list(tmp_path.glob("started.*"))) == 2, TASK_TIMEOUT, what="2 ranks")
    assert running.cancel()
    out = tmp_path / "after.txt"
    assert mpi_apps.hello(str(out), **spec(num_ranks=2)).result(timeout=TASK_TIMEOUT) == 0
    assert len(out.read_text().splitlines()) == 2


def test_bash_failure_with_its_own_stderr_file_keeps_it(
    mpi_kernel, implementation: str, tmp_path: Path
) -> None:
    mpi_kernel(mpi_implementation=implementation)
    err = tmp_path / "err.txt"
    future = mpi_apps.hello(str(tmp_path / "o.txt"), "fail", stderr=str(err), **spec(num_ranks=2))
    with pytest.raises(MPIExitFailure) as info:
        future.result(timeout=TASK_TIMEOUT)
    assert info.value.stderr == str(err)
    assert "rank 1 is failing on purpose" in err.read_text()
    assert "rank 1 is failing on purpose" in info.value.stderr_tail
    assert "--> executable follows <--" not in info.value.stderr_tail


@pytest.fixture
def two_nodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """This machine under two names: a block of two nodes both MPIs can start ranks on."""
    nodefile = tmp_path / "nodes"
    nodefile.write_text(f"{HOST}\nlocalhost\n")
    monkeypatch.setenv("PLAIT_MPI_NODEFILE", str(nodefile))
    return [HOST, "localhost"]


def test_tasks_are_packed_onto_disjoint_nodes(
    mpi_kernel, implementation: str, two_nodes: list[str], tmp_path: Path
) -> None:
    """Two one-node tasks run at the same time, each on a node of its own; the block's
    nodes then serve real MPI tasks side by side."""
    mpi_kernel(mpi_implementation=implementation, max_workers_per_block=2)
    a, b = tmp_path / "a", tmp_path / "b"
    first = mpi_apps.meet(str(a), str(b), **spec(num_ranks=1))
    second = mpi_apps.meet(str(b), str(a), **spec(num_ranks=1))
    nodes = {first.result(timeout=TASK_TIMEOUT), second.result(timeout=TASK_TIMEOUT)}
    assert nodes == set(two_nodes)

    outs = [tmp_path / f"hello-{i}.txt" for i in range(4)]
    futures = [mpi_apps.hello(str(o), **spec(num_ranks=2)) for o in outs]
    assert [f.result(timeout=TASK_TIMEOUT) for f in futures] == [0, 0, 0, 0]
    for out in outs:
        assert sorted(line.split()[:2] for line in out.read_text().splitlines()) == [
            ["0", "2"],
            ["1", "2"],
        ]


class TwoNodeExecutor(MPIExecutor):
    """An MPIExecutor told its LocalProvider blocks have two nodes (the two names
    PLAIT_MPI_NODEFILE gives this machine), so tasks may ask for both."""

    @property
    def block_nodes(self) -> int:
        return 2


def test_a_task_waits_only_while_the_nodes_it_needs_are_busy(
    mpi_kernel, two_nodes: list[str], tmp_path: Path
) -> None:
    """A two-node task queued behind a running one-node task waits; a one-node task
    queued after it does not wait behind it (first fit), and the two-node task runs
    as soon as both nodes are free."""
    require_mpi("openmpi")
    _, executor = mpi_kernel(
        TwoNodeExecutor(max_workers_per_block=3, heartbeat_period=0.5, heartbeat_threshold=5)
    )
    release = tmp_path / "release"
    holder = mpi_apps.nodelist_after(str(release), **spec(num_ranks=1))
    wait_until(lambda: executor.connected_managers() == 1, TASK_TIMEOUT, what="the manager")
    big = mpi_apps.environment(**spec(2, ranks_per_node=1))
    small = mpi_apps.environment(**spec(num_ranks=1))
    small_env = small.result(timeout=TASK_TIMEOUT)
    assert not holder.done() and not big.done(), "the small task waited behind the big one"
    assert small_env["PLAIT_MPI_NODELIST"] in two_nodes
    release.touch()
    assert big.result(timeout=TASK_TIMEOUT)["PLAIT_MPI_NODELIST"] == ",".join(two_nodes)
    assert holder.result(timeout=TASK_TIMEOUT) in two_nodes


class ThreeNodeExecutor(MPIExecutor):
    """An MPIExecutor that believes its blocks have three nodes."""

    @property
    def block_nodes(self) -> int:
        return 3


def test_a_task_the_block_can_never_run_fails_instead_of_waiting(
    mpi_kernel, two_nodes: list[str]
) -> None:
    require_mpi("openmpi")
    mpi_kernel(ThreeNodeExecutor(heartbeat_period=0.5, heartbeat_threshold=5))
    with pytest.raises(NotEnoughNodes) as info:
        mpi_apps.environment(**spec(3, ranks_per_node=1)).result(timeout=TASK_TIMEOUT)
    assert info.value.num_nodes == 3 and info.value.nodes == two_nodes
    assert "num_nodes=3" in str(info.value) and "PLAIT_MPI_NODEFILE" in str(info.value)
    # the block is still good for what it can run
    env = mpi_apps.environment(**spec(2, ranks_per_node=1)).result(timeout=TASK_TIMEOUT)
    assert env["PLAIT_MPI_NODELIST"] == ",".join(two_nodes)


def test_resource_specification_is_accepted_under_its_short_name(mpi_kernel) -> None:
    """``resource_specification=`` works like ``parsl_resource_specification=``."""
    require_mpi("openmpi")
    mpi_kernel(mpi_implementation="openmpi")
    ask = {"num_nodes": 1, "num_ranks": 3}
    env = mpi_apps.environment(resource_specification=ask).result(timeout=TASK_TIMEOUT)
    assert env["PLAIT_MPI_NUM_RANKS"] == "3"
    assert ask == {"num_nodes": 1, "num_ranks": 3}  # the caller's dict is not modified
