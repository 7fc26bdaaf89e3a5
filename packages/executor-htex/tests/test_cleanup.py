"""No leftovers: after a kernel's cleanup no interchange, manager or worker remains."""

from __future__ import annotations

import time
from pathlib import Path

import htex_apps
from htex_helpers import (
    CLEANUP_LIMIT,
    TASK_TIMEOUT,
    ProcessWatch,
    assert_no_survivors,
    cleanup_within,
    descendants,
    is_htex_process,
    make_htex,
    wait_gone,
    wait_pid_file,
)

import plait
from plait import Config
from plait.testing import process_alive


def _htex_pids(loaded) -> list[int]:
    """Interchange, block script, manager and workers of block 0, all alive now."""
    pids = [
        loaded.interchange_pid,
        loaded.block_pid("0"),
        loaded.manager_pid("0"),
        *loaded.worker_pids("0", count=2),
    ]
    assert all(process_alive(p) for p in pids)
    return pids


def _gone_right_after_cleanup(pids: list[int]) -> None:
    """Gone once cleanup returns; SIGKILL needs a few milliseconds to take effect (the
    provider waits for the block's script, not for every process of its group)."""
    wait_gone(pids, 1.0, what=f"processes {pids} to be gone after cleanup")


def test_cleanup_after_finished_work_leaves_nothing(htex) -> None:
    loaded = htex()
    assert [htex_apps.add(i, 0).result(timeout=TASK_TIMEOUT) for i in range(10)] == list(range(10))
    pids = _htex_pids(loaded)
    cleanup_within(loaded.dfk)
    _gone_right_after_cleanup(pids)


def test_cleanup_with_running_and_queued_tasks_is_prompt_and_complete(htex, tmp_path: Path) -> None:
    loaded = htex()
    running = [htex_apps.pid_then_sleep(str(tmp_path / f"pid-{i}"), 300) for i in range(2)]
    for i in range(2):
        wait_pid_file(tmp_path / f"pid-{i}")
    queued = [htex_apps.add(i, 0) for i in range(20)]
    pids = _htex_pids(loaded)
    took = cleanup_within(loaded.dfk)
    assert took < CLEANUP_LIMIT
    for fut in (*running, *queued):
        assert fut.done()
    assert all(f.cancelled() for f in running)
    _gone_right_after_cleanup(pids)


def test_with_block_waits_then_leaves_nothing(tmp_path: Path, process_watch: ProcessWatch) -> None:
    config = Config(executors=[make_htex()], run_dir=str(tmp_path / "runinfo"))
    with plait.load(config):
        futures = [htex_apps.add(i, 1) for i in range(20)]
    # exit_mode 'wait': the block waited for every task, then cleaned up
    assert [f.result(timeout=0) for f in futures] == list(range(1, 21))
    assert process_watch.pids(), "no HTEX process was seen"
    assert_no_survivors(process_watch)


def test_kernels_one_after_another_leave_nothing(
    tmp_path: Path, process_watch: ProcessWatch
) -> None:
    for run in range(3):
        config = Config(executors=[make_htex()], run_dir=str(tmp_path / f"runinfo-{run}"))
        dfk = plait.load(config)
        try:
            assert htex_apps.add(run, 1).result(timeout=TASK_TIMEOUT) == run + 1
        finally:
            began = time.monotonic()
            dfk.cleanup()
            assert time.monotonic() - began < CLEANUP_LIMIT
        assert_no_survivors(process_watch)
    assert len({p for p in process_watch.pids()}) >= 3 * 4  # 3 x (interchange, manager, 2 workers)


def test_watch_sees_only_this_tests_processes(htex) -> None:
    """The leftover check follows parent chains from this process: every HTEX process it
    records descends from the test process while it runs."""
    loaded = htex()
    assert htex_apps.add(1, 1).result(timeout=TASK_TIMEOUT) == 2
    import os

    mine = [p for p in descendants(os.getpid()) if is_htex_process(p)]
    assert loaded.interchange_pid in mine
    assert loaded.manager_pid("0") in mine
    assert set(loaded.worker_pids("0", count=2)) <= set(mine)
