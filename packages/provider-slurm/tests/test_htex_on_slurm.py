"""End to end: HTEX on SlurmProvider, on the private cluster's two emulated nodes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import slurm_apps

import plait
from plait import Config
from plait.testing import wait_until
from plait_executor_htex import HighThroughputExecutor, ManagerLost
from plait_provider_slurm import SlurmProvider, SrunLauncher
from plait_provider_slurm.cluster import SlurmCluster

HB_PERIOD = 0.5
HB_THRESHOLD = 3.0
#: slack on top of the heartbeat threshold for a lost block to be noticed
MARGIN = 5.0
TIMEOUT = 60.0

pytestmark = pytest.mark.usefixtures("apps_on_pythonpath")


def make_htex(tmp_path: Path, **provider_kwargs: object) -> HighThroughputExecutor:
    provider_kwargs.setdefault("launcher", SrunLauncher(debug=False))
    provider_kwargs.setdefault("status_polling_interval", 0.5)
    provider = SlurmProvider(**provider_kwargs)  # type: ignore[arg-type]
    return HighThroughputExecutor(
        label="htex-slurm",
        provider=provider,
        heartbeat_period=HB_PERIOD,
        heartbeat_threshold=HB_THRESHOLD,
        max_workers_per_node=1,
    )


@pytest.fixture
def kernel_cleanup() -> Iterator[None]:
    try:
        yield
    finally:
        plait.clear()


def run_jobs(executor: HighThroughputExecutor) -> list[str]:
    return [job for job in executor.blocks.values() if job]


def test_two_node_blocks_return_results_from_both_nodes(
    slurm_conf: SlurmCluster, tmp_path: Path, kernel_cleanup: None
) -> None:
    htex = make_htex(tmp_path, nodes_per_block=2, init_blocks=1, max_blocks=1)
    config = Config(executors=[htex], run_dir=str(tmp_path / "runinfo"), strategy_period=0.5)
    began = time.monotonic()
    with plait.load(config):
        first = slurm_apps.where().result(timeout=TIMEOUT)
        first_result = time.monotonic() - began
        assert first in ("node1", "node2")
        wait_until(lambda: htex.connected_managers() == 2, TIMEOUT, 0.1, what="2 managers")
        nodes = {f.result(timeout=TIMEOUT) for f in [slurm_apps.where(0.3) for _ in range(8)]}
        assert nodes == {"node1", "node2"}
        jobs = run_jobs(htex)
        assert len(jobs) == 1
        assert slurm_conf.queue()[jobs[0]] == "RUNNING"
        script_dir = Path(htex.provider.script_dir or "")
        assert script_dir.parent == tmp_path / "runinfo" or tmp_path in script_dir.parents
    # `with` exit cancelled the block: nothing of this run stays in squeue
    wait_until(
        lambda: not set(jobs) & set(slurm_conf.queue()), 15, 0.1, what="blocks gone from squeue"
    )
    print(f"load() to first result: {first_result:.2f} s")


def test_block_cancelled_from_outside_fails_its_tasks_with_manager_lost(
    slurm_conf: SlurmCluster, tmp_path: Path, kernel_cleanup: None
) -> None:
    htex = make_htex(tmp_path, init_blocks=1, max_blocks=1)
    config = Config(executors=[htex], run_dir=str(tmp_path / "runinfo"), strategy_period=0.5)
    with plait.load(config):
        pid_file = tmp_path / "pid"
        future = slurm_apps.pid_then_sleep(str(pid_file), 300)
        wait_until(pid_file.exists, TIMEOUT, 0.1, what="the task to start")
        (job_id,) = run_jobs(htex)
        began = time.monotonic()
        slurm_conf.run("scancel", job_id)
        with pytest.raises(ManagerLost) as info:
            future.result(timeout=HB_THRESHOLD + MARGIN + 10)
        took = time.monotonic() - began
        assert took < HB_THRESHOLD + MARGIN, f"ManagerLost after {took:.1f} s"
        assert info.value.block_id == "0"
        assert info.value.job_id == job_id and f"provider job {job_id}" in str(info.value)
        assert info.value.job_state in ("CANCELLED", "COMPLETING", "RUNNING"), str(info.value)
        # the strategy replaces the cancelled block, and new work runs there
        assert slurm_apps.add(20, 22).result(timeout=TIMEOUT) == 42
        assert len(run_jobs(htex)) == 2
        wait_until(
            lambda: htex.provider.status([job_id])[0].state.name == "CANCELLED",
            TIMEOUT,
            0.1,
            what="the first block's CANCELLED state",
        )
    jobs = run_jobs(htex)
    wait_until(
        lambda: not set(jobs) & set(slurm_conf.queue()), 15, 0.1, what="blocks gone from squeue"
    )


def slurm_state(cluster: SlurmCluster, job_id: str) -> str | None:
    """The job's state as ``squeue --states=all`` shows it (None once it has left squeue)."""
    return cluster.queue(all_states=True).get(job_id)


def ended_at(cluster: SlurmCluster, job_id: str) -> float | None:
    """``time.monotonic()`` if squeue shows the job ended by its time limit (or ending:
    COMPLETING while its processes get SIGTERM, then SIGKILL after KillWait), else None."""
    return time.monotonic() if slurm_state(cluster, job_id) in ("TIMEOUT", "COMPLETING") else None


def sacct_state(cluster: SlurmCluster, job_id: str) -> str:
    """The job's state in the accounting database ('' while sacct does not list it yet)."""
    out = cluster.run("sacct", "-X", "-n", "-P", "-o", "State", f"--jobs={job_id}").stdout
    return out.strip()


@pytest.mark.timeout(240)
def test_block_killed_at_its_walltime_fails_its_tasks_with_manager_lost_timeout(
    slurm_conf: SlurmCluster, tmp_path: Path, kernel_cleanup: None
) -> None:
    """Slurm ends a block at its walltime (1 minute, Slurm's least; slurmctld checks limits
    every 30 s, so 60-90 s after the job starts): the task running there fails with
    ManagerLost naming the job and TIMEOUT within the heartbeat threshold, the strategy
    replaces the block, and the next task runs on the replacement."""
    htex = make_htex(tmp_path, walltime="00:01:00", init_blocks=1, max_blocks=1)
    config = Config(executors=[htex], run_dir=str(tmp_path / "runinfo"), strategy_period=0.5)
    with plait.load(config):
        pid_file = tmp_path / "pid"
        future = slurm_apps.pid_then_sleep(str(pid_file), 600)
        wait_until(pid_file.exists, TIMEOUT, 0.1, what="the task to start")
        (job_id,) = run_jobs(htex)
        ended = wait_until(
            lambda: ended_at(slurm_conf, job_id),
            150,
            0.2,
            what=f"Slurm ending job {job_id} at its walltime",
        )
        with pytest.raises(ManagerLost) as info:
            future.result(timeout=HB_THRESHOLD + MARGIN + 10)
        took = time.monotonic() - ended
        assert took < HB_THRESHOLD + MARGIN, f"ManagerLost {took:.1f} s after the job ended"
        assert info.value.block_id == "0"
        assert info.value.job_id == job_id and f"provider job {job_id}" in str(info.value)
        assert info.value.job_state == "TIMEOUT", str(info.value)
        assert "TIMEOUT" in str(info.value)
        print(f"ManagerLost {took:.1f} s after Slurm ended job {job_id}: {info.value}")
        # the strategy replaces the block, and new work runs there
        assert slurm_apps.add(20, 22).result(timeout=TIMEOUT) == 42
        assert len(run_jobs(htex)) == 2
        wait_until(
            lambda: sacct_state(slurm_conf, job_id) == "TIMEOUT",
            TIMEOUT,
            0.2,
            what=f"sacct reporting job {job_id} TIMEOUT",
        )
    jobs = run_jobs(htex)
    wait_until(
        lambda: not set(jobs) & set(slurm_conf.queue()), 15, 0.1, what="blocks gone from squeue"
    )


def test_scales_out_and_in_without_exceeding_max_blocks(
    slurm_conf: SlurmCluster, tmp_path: Path, kernel_cleanup: None
) -> None:
    """Under htex_auto_scale, a burst of tasks scales out to max_blocks (never beyond, as
    the real squeue shows) and idle blocks are scaled in afterwards."""
    htex = make_htex(tmp_path, init_blocks=0, min_blocks=0, max_blocks=2)
    config = Config(
        executors=[htex],
        run_dir=str(tmp_path / "runinfo"),
        strategy="htex_auto_scale",
        strategy_period=0.3,
        max_idletime=1.0,
    )
    most, stop = [0], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            most[0] = max(most[0], len(slurm_conf.queue()))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        with plait.load(config):
            futures = [slurm_apps.where(0.5) for _ in range(12)]
            assert all(f.result(timeout=TIMEOUT) for f in futures)
            assert len(run_jobs(htex)) >= 2
            wait_until(
                lambda: not set(run_jobs(htex)) & set(slurm_conf.queue()),
                TIMEOUT,
                0.2,
                what="idle blocks scaled in",
            )
    finally:
        stop.set()
        watcher.join()
    assert 1 <= most[0] <= 2, f"squeue held {most[0]} blocks at once; max_blocks is 2"
