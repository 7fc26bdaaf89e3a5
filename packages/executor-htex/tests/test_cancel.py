"""Cancelling queued and running tasks, and walltimes, on real workers."""

from __future__ import annotations

import time
from pathlib import Path

import htex_apps
import pytest
from htex_helpers import TASK_TIMEOUT, is_worker, make_htex, wait_gone, wait_pid_file

from plait.errors import AppTimeout
from plait.testing import process_alive, wait_until

#: a killed worker must be gone, and replaced, within this
REPLACE_TIMEOUT = 5.0


def _held_by_interchange(loaded) -> int:
    """Tasks the interchange has: queued, or handed to a manager (its latest status)."""
    status = loaded.executor._status
    return int(status.get("queued", 0)) + sum(b["tasks"] for b in status["blocks"].values())


def _replacement_worker(loaded, old: list[int], killed: int) -> list[int]:
    """Wait until the manager has two workers again, ``killed`` not among them."""

    def replaced() -> list[int] | None:
        found = loaded.worker_pids("0", count=2)
        return found if killed not in found else None

    workers = wait_until(replaced, REPLACE_TIMEOUT, what=f"worker {killed} to be replaced")
    assert workers is not None
    assert [p for p in workers if p not in old], f"no new worker: {old} -> {workers}"
    return workers


@pytest.mark.parametrize("prefetch", [0, None], ids=["no-prefetch", "adaptive-prefetch"])
def test_cancel_queued_task(htex, tmp_path: Path, prefetch: int | None) -> None:
    """Both workers busy: a queued task is cancelled (True), never runs, and the tasks
    queued after it still run (whether it waited in the interchange or was prefetched)."""
    loaded = htex(make_htex(prefetch_capacity=prefetch))
    release = tmp_path / "release"
    busy = [htex_apps.blocker(str(tmp_path / f"started-{i}"), str(release)) for i in range(2)]
    for i in range(2):
        wait_pid_file(tmp_path / f"started-{i}")
    marker = tmp_path / "target-ran"
    target = htex_apps.touch_then_return(str(marker), "should not run")
    after = [htex_apps.add(i, 1) for i in range(4)]
    wait_until(
        lambda: _held_by_interchange(loaded) == 7,
        TASK_TIMEOUT,
        what="the interchange to hold all 7 tasks",
    )
    assert target.cancel() is True
    assert target.cancelled()
    assert target.cancel() is True  # again: it stays cancelled
    # Cancelling is asynchronous: the CANCEL must reach the interchange before a worker
    # frees up, or the task may start anyway. The executor's socket is ordered, so once
    # tasks sent after the CANCEL show up at the interchange, the CANCEL has been handled.
    # (Two probes: the count grows whether the cancelled task still counts or not.)
    wait_until(lambda: not loaded.executor._outbox, TASK_TIMEOUT, what="the CANCEL to be sent")
    probes = [htex_apps.add(100, i) for i in range(2)]
    wait_until(
        lambda: _held_by_interchange(loaded) >= 8,
        TASK_TIMEOUT,
        what="the interchange to hold the probe tasks too",
    )
    release.write_text("go")
    assert [f.result(timeout=TASK_TIMEOUT) for f in busy]
    # tasks queued behind the cancelled one ran, so it would have run by now
    assert [f.result(timeout=TASK_TIMEOUT) for f in after] == [1, 2, 3, 4]
    assert [f.result(timeout=TASK_TIMEOUT) for f in probes] == [100, 101]
    assert not marker.exists(), "the cancelled task ran"
    assert loaded.executor.outstanding() == 0


def test_cancel_finished_task_returns_false(htex) -> None:
    htex()
    fut = htex_apps.add(1, 1)
    assert fut.result(timeout=TASK_TIMEOUT) == 2
    assert fut.cancel() is False
    assert not fut.cancelled()


def test_cancel_running_task_kills_and_replaces_its_worker(htex, tmp_path: Path) -> None:
    loaded = htex()
    old = loaded.worker_pids("0", count=2)
    pid_file = tmp_path / "pid"
    fut = htex_apps.pid_then_sleep(str(pid_file), 300)
    running_in = wait_pid_file(pid_file)
    assert running_in in old
    began = time.monotonic()
    assert fut.cancel() is True
    assert fut.cancelled()
    wait_gone([running_in], REPLACE_TIMEOUT, what=f"the cancelled task's worker {running_in}")
    workers = _replacement_worker(loaded, old, running_in)
    assert time.monotonic() - began < REPLACE_TIMEOUT + 1
    # later tasks run, on the surviving and the new worker
    identities = [htex_apps.worker_identity() for _ in range(6)]
    pids = {f.result(timeout=TASK_TIMEOUT)["pid"] for f in identities}
    assert running_in not in pids
    assert pids <= set(workers)


def test_cancelled_running_task_frees_its_slot(htex, tmp_path: Path) -> None:
    """After a running task is cancelled, the block reports no task and both workers can
    again run tasks at the same time."""
    loaded = htex(make_htex(prefetch_capacity=0))
    pid_file = tmp_path / "pid"
    fut = htex_apps.pid_then_sleep(str(pid_file), 300)
    running_in = wait_pid_file(pid_file)
    assert fut.cancel() is True
    wait_gone([running_in], REPLACE_TIMEOUT)
    loaded.worker_pids("0", count=2)
    wait_until(
        lambda: loaded.executor.block_activity().get("0", (None, None))[0] == 0,
        5,
        what="block 0 to report no tasks",
    )
    a, b = tmp_path / "a", tmp_path / "b"
    pair = [htex_apps.rendezvous(str(a), str(b), 8), htex_apps.rendezvous(str(b), str(a), 8)]
    assert [f.result(timeout=TASK_TIMEOUT) for f in pair] == [True, True]


def _both_workers_ready(tmp_path: Path) -> None:
    """Two tasks that must run at the same time: both workers are up and taking tasks."""
    a, b = tmp_path / "ready-a", tmp_path / "ready-b"
    pair = [htex_apps.rendezvous(str(a), str(b), 20), htex_apps.rendezvous(str(b), str(a), 20)]
    assert [f.result(timeout=TASK_TIMEOUT) for f in pair] == [True, True]


def test_walltime_times_out_and_replaces_the_worker(htex, tmp_path: Path) -> None:
    loaded = htex()
    # the kernel starts a walltime clock at submission: start from idle, ready workers
    _both_workers_ready(tmp_path)
    old = loaded.worker_pids("0", count=2)
    pid_file = tmp_path / "pid"
    began = time.monotonic()
    fut = htex_apps.pid_then_sleep(str(pid_file), 300, walltime=1)
    running_in = wait_pid_file(pid_file)
    with pytest.raises(AppTimeout, match="walltime"):
        fut.result(timeout=TASK_TIMEOUT)
    took = time.monotonic() - began
    assert 1 <= took < 5, f"AppTimeout after {took:.1f} s for walltime=1"
    wait_gone([running_in], REPLACE_TIMEOUT, what=f"the timed-out task's worker {running_in}")
    workers = _replacement_worker(loaded, old, running_in)
    assert htex_apps.worker_identity().result(timeout=TASK_TIMEOUT)["pid"] in workers
    # a task well within its walltime is not affected
    assert htex_apps.add(1, 2, walltime=30).result(timeout=TASK_TIMEOUT) == 3


def test_walltime_does_not_touch_other_workers(htex, tmp_path: Path) -> None:
    """Only the timed-out task's worker is killed: a task on the other worker finishes."""
    htex()
    _both_workers_ready(tmp_path)
    release = tmp_path / "release"
    other = htex_apps.blocker(str(tmp_path / "other-started"), str(release))
    other_pid = wait_pid_file(tmp_path / "other-started")
    pid_file = tmp_path / "pid"
    slow = htex_apps.pid_then_sleep(str(pid_file), 300, walltime=1)
    slow_pid = wait_pid_file(pid_file)
    assert slow_pid != other_pid
    with pytest.raises(AppTimeout):
        slow.result(timeout=TASK_TIMEOUT)
    assert process_alive(other_pid) and is_worker(other_pid)
    release.write_text("go")
    assert other.result(timeout=TASK_TIMEOUT) == other_pid


def test_walltime_counts_running_time_not_queueing(htex, tmp_path: Path) -> None:
    loaded = htex(make_htex(max_workers_per_node=1, prefetch_capacity=0))
    started = tmp_path / "started"
    # the only worker is busy for 2 s (the sleep is the workload, not a synchronisation)
    busy = htex_apps.pid_then_sleep(str(started), 2)
    wait_pid_file(started)
    quick = htex_apps.add(1, 2, walltime=1)
    assert busy.result(timeout=TASK_TIMEOUT) > 0
    assert quick.result(timeout=TASK_TIMEOUT) == 3
    assert loaded.dfk.task_counts()["failed"] == 0


def test_cancelled_bash_app_command_is_killed(htex, tmp_path: Path) -> None:
    htex()
    pid_file = tmp_path / "bash-pid"
    fut = htex_apps.bash_pid_then_sleep(str(pid_file), 300)
    command = wait_pid_file(pid_file)
    try:
        assert fut.cancel() is True
        wait_gone([command], REPLACE_TIMEOUT, what=f"the cancelled bash command {command}")
    finally:
        if process_alive(command):
            import os
            import signal

            os.kill(command, signal.SIGKILL)


def test_bash_app_walltime_kills_the_command(htex, tmp_path: Path) -> None:
    htex()
    pid_file = tmp_path / "bash-pid"
    fut = htex_apps.bash_pid_then_sleep(str(pid_file), 300, walltime=1)
    command = wait_pid_file(pid_file)
    try:
        with pytest.raises(AppTimeout):
            fut.result(timeout=TASK_TIMEOUT)
        wait_gone([command], REPLACE_TIMEOUT, what=f"the timed-out bash command {command}")
    finally:
        if process_alive(command):
            import os
            import signal

            os.kill(command, signal.SIGKILL)
