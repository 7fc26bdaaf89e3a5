"""When HTEX tells the kernel that a task is running (``Executor.on_task_running``).

Every result carries when its task started on the worker, and the interchange adds the
block of the manager it came from, so a short task is reported running just before its
result is set, at no extra message. A long task is reported while it runs, from its
first resource sample, when a monitor asks for samples. Without a monitor nothing is
reported, and nothing more travels than without this feature.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import htex_apps
import pytest
from htex_helpers import TASK_TIMEOUT, make_htex

from plait.errors import AppTimeout
from plait.events import TaskStateChanged
from plait.lean_future import LeanFuture
from plait.serialize import pack
from plait.testing import RecordingMonitor, wait_until
from plait_executor_htex import HighThroughputExecutor, protocol

pytestmark = pytest.mark.timeout(90)


def _events(recorder: RecordingMonitor, task_id: int, last: str) -> list[TaskStateChanged]:
    """Task ``task_id``'s events, once the one of its final state ``last`` is recorded."""

    def complete() -> list[TaskStateChanged] | None:
        mine = [e for e in recorder.tasks if e.task_id == task_id]
        return mine if mine and mine[-1].state == last else None

    events = wait_until(complete, TASK_TIMEOUT, what=f"task {task_id} to reach {last}")
    assert events is not None
    return events


def _assert_ran_in_block_zero(events: list[TaskStateChanged], last: str) -> None:
    """pending, launched, running, ``last``: running when the worker started the body
    (between launch and the end: the worker runs on this machine, one clock), in the
    block whose manager ran it."""
    assert [e.state for e in events] == ["pending", "launched", "running", last]
    _, launched, running, end = events
    assert launched.try_time_launched is not None and running.try_time_running is not None
    assert launched.try_time_launched <= running.try_time_running <= end.timestamp
    assert running.timestamp == running.try_time_running == end.try_time_running
    assert running.block_id == end.block_id == "0"


def _registered_blocks(recorder: RecordingMonitor) -> set[str]:
    return {node.block_id for node in recorder.nodes if node.active}


def test_a_task_is_running_between_launch_and_result_in_its_block(htex) -> None:
    recorder = RecordingMonitor()
    loaded = htex(make_htex(), monitoring=recorder)
    assert loaded.executor.on_task_running is not None
    fut = htex_apps.add(1, 2)
    assert fut.result(timeout=TASK_TIMEOUT) == 3
    _assert_ran_in_block_zero(_events(recorder, fut.tid, "exec_done"), "exec_done")
    assert _registered_blocks(recorder) == {"0"}  # the block the manager registered from
    assert recorder.samples == []  # no samples asked for: the result alone told


def test_a_failing_task_is_running_before_it_fails(htex) -> None:
    recorder = RecordingMonitor()
    htex(make_htex(), monitoring=recorder)
    fut = htex_apps.fail_with("broken on purpose")
    with pytest.raises(htex_apps.HtexAppError):
        fut.result(timeout=TASK_TIMEOUT)
    _assert_ran_in_block_zero(_events(recorder, fut.tid, "failed"), "failed")


def test_a_task_past_its_walltime_was_running_before_it_timed_out(htex, tmp_path: Path) -> None:
    """Its worker is killed, so no result carries the start: the manager's own time of
    handing it to the worker stands in for it."""
    recorder = RecordingMonitor()
    htex(make_htex(), monitoring=recorder)
    fut = htex_apps.pid_then_sleep(str(tmp_path / "pid"), 300, walltime=1)
    with pytest.raises(AppTimeout):
        fut.result(timeout=TASK_TIMEOUT)
    _assert_ran_in_block_zero(_events(recorder, fut.tid, "failed"), "failed")


def test_a_long_task_counts_as_running_while_it_runs(htex, tmp_path: Path) -> None:
    """Its first resource sample reports it running; its result does not report it again."""
    pytest.importorskip("psutil", reason="workers sample with psutil")
    recorder = RecordingMonitor(resource_interval=0.1)
    loaded = htex(make_htex(), monitoring=recorder)
    release = tmp_path / "release"
    fut = htex_apps.blocker(str(tmp_path / "started"), str(release))
    try:
        wait_until(
            lambda: loaded.dfk.task_counts()["running"] == 1,
            TASK_TIMEOUT,
            what="the blocked task to count as running",
        )
        assert not fut.done()  # it cannot finish before the release: a sample told
        running = next(e for e in recorder.tasks if e.task_id == fut.tid and e.state == "running")
        assert running.block_id == "0"
        assert running.try_time_running is not None and running.try_time_running <= time.time()
    finally:
        release.write_text("go")
    assert fut.result(timeout=TASK_TIMEOUT) > 0
    _assert_ran_in_block_zero(_events(recorder, fut.tid, "exec_done"), "exec_done")
    assert any(s.task_id == fut.tid for s in recorder.samples)
    assert loaded.executor._reported_running == set()


def test_without_a_monitor_nothing_is_reported_or_sent(htex, monkeypatch) -> None:
    loaded = htex(make_htex())
    executor = loaded.executor
    assert executor.on_task_running is None and executor.resource_interval is None
    kinds: list[bytes] = []
    handle = executor._on_message

    def spy(frames: list[bytes]) -> None:
        kinds.append(frames[0])
        handle(frames)

    monkeypatch.setattr(executor, "_on_message", spy)  # the I/O thread looks it up each time
    futures = [htex_apps.add(i, 1) for i in range(200)]
    assert [f.result(timeout=TASK_TIMEOUT) for f in futures] == list(range(1, 201))
    assert executor.on_task_running is None
    assert protocol.RESULTS in kinds
    assert set(kinds) <= {protocol.RESULTS, protocol.STATUS, protocol.NODE}
    assert loaded.dfk.task_counts()["running"] == 0
    assert executor._reported_running == set()


# -- the executor's side alone: messages fed in as the interchange sends them ----------


class Reports:
    """Records ``on_task_running`` calls, and whether the future was done at each."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, float, str | None, bool]] = []

    def __call__(self, fut: Any, started: float, block_id: str | None) -> None:
        self.calls.append((fut, started, block_id, fut.done()))


def _executor_with_task(task_id: int) -> tuple[HighThroughputExecutor, LeanFuture[Any]]:
    executor = HighThroughputExecutor()
    fut: LeanFuture[Any] = LeanFuture()
    executor._futures[task_id] = fut
    return executor, fut


def _results(*entries: tuple[int, str, float | None, str], value: Any = 5) -> list[bytes]:
    return protocol.batch(protocol.RESULTS, list(entries), [pack(value) for _ in entries])


def _samples(block_id: str, *entries: tuple[int, float]) -> list[bytes]:
    body = (block_id, [(task_id, started, {"pid": 1}) for task_id, started in entries])
    return [protocol.RESOURCES, protocol.dumps(body)]


def test_a_result_reports_its_task_running_just_before_completing_it() -> None:
    executor, fut = _executor_with_task(7)
    executor.on_task_running = reports = Reports()
    executor._on_message(_results((7, protocol.RESULT_OK, 100.0, "3")))
    assert reports.calls == [(fut, 100.0, "3", False)]
    assert fut.result(timeout=0) == 5


def test_a_result_without_a_start_reports_nothing() -> None:
    """A task that never ran on a worker (its manager was lost) has no start."""
    executor, fut = _executor_with_task(7)
    executor.on_task_running = reports = Reports()
    executor._on_message(_results((7, protocol.RESULT_ERR, None, "3"), value=ValueError("x")))
    assert reports.calls == []
    assert isinstance(fut.exception(timeout=0), ValueError)


def test_a_sampled_task_is_reported_running_once() -> None:
    executor, fut = _executor_with_task(7)
    executor.on_task_running = reports = Reports()
    sampled: list[Any] = []
    executor.on_resource_sample = lambda f, values: sampled.append(f)
    executor._on_message(_samples("3", (7, 100.0), (8, 100.0)))  # 8: not a task of ours
    executor._on_message(_samples("3", (7, 100.0)))
    executor._on_message(_results((7, protocol.RESULT_OK, 100.0, "3")))
    assert reports.calls == [(fut, 100.0, "3", False)]
    assert sampled == [fut, fut]
    assert executor._reported_running == set()


def test_without_a_monitor_results_and_samples_report_nothing() -> None:
    executor, fut = _executor_with_task(7)
    assert executor.on_task_running is None
    executor._on_message(_samples("3", (7, 100.0)))
    executor._on_message(_results((7, protocol.RESULT_OK, 100.0, "3")))
    assert fut.result(timeout=0) == 5
    assert executor._reported_running == set()
