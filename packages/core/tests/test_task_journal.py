"""The task journal says everything the task observer hook says, and running states."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import pytest

import plait
from plait import bash_app, join_app, python_app
from plait.config import Config
from plait.data_provider.files import File
from plait.events import TaskStateChanged
from plait.executors.base import Executor
from plait.executors.threads import ThreadPoolExecutor
from plait.journal import JournalReader, TaskJournal
from plait.lean_future import LeanFuture
from plait.testing import RecordingMonitor

pytestmark = pytest.mark.timeout(60)
TIMEOUT = 30


class JournalAndHooks(RecordingMonitor):
    """Records the run both ways: the hook's events and a journal."""

    def bind(self, kernel: Any) -> None:
        self.journal = kernel.task_journal()

    def journal_events(self) -> list[TaskStateChanged]:
        assert self.run_id is not None
        return JournalReader(self.run_id).events(self.journal.take())


@python_app
def add(a: int, b: int) -> int:
    return a + b


@python_app(cache=True)
def cached(x: int) -> int:
    return x * 2


@python_app
def flaky(marker: str) -> str:
    import os

    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first try fails")
    return "ok"


@python_app
def boom() -> None:
    raise ValueError("bad input")


@join_app
def joined(x: int) -> Future[int]:
    return add(x, 1)


@python_app
def unstageable(inputs: tuple[File, ...] = ()) -> None:
    pass


@bash_app
def echo(stdout: str | None = None) -> str:
    return "echo hi"


def _without_returned(event: TaskStateChanged) -> TaskStateChanged:
    return event._replace(try_time_returned=None)


def test_journal_events_match_the_hook_events(make_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monitor = JournalAndHooks()
    out = str(tmp_path / "echo.out")
    with plait.load(make_config(monitoring=monitor, retries=1)):
        assert add(add(1, 2), 3).result(timeout=TIMEOUT) == 6
        assert cached(2).result(timeout=TIMEOUT) == cached(2).result(timeout=TIMEOUT) == 4
        assert flaky(str(tmp_path / "marker")).result(timeout=TIMEOUT) == "ok"
        assert isinstance(boom().exception(timeout=TIMEOUT), ValueError)
        assert isinstance(add(boom(), 1).exception(timeout=TIMEOUT), plait.errors.DependencyError)
        assert joined(1).result(timeout=TIMEOUT) == 2
        assert echo(stdout=out).result(timeout=TIMEOUT) == 0
        # staging it fails at submission, before the task could launch
        assert unstageable(inputs=[File("nosuch://host/x")]).exception(timeout=TIMEOUT)
    hooked, journaled = monitor.tasks, monitor.journal_events()
    assert len(journaled) == len(hooked) > 30
    # the journal dates a try's return by the state that ends it, a moment after the
    # hook's; everything else is the same, field for field
    assert [_without_returned(e) for e in journaled] == [_without_returned(e) for e in hooked]
    for mine, theirs in zip(journaled, hooked, strict=True):
        if theirs.try_time_returned is not None:
            assert mine.try_time_returned is not None, mine
            assert 0 <= mine.try_time_returned - theirs.try_time_returned < 1
        else:
            assert mine.try_time_returned is None, mine
    by_task: dict[int, list[str]] = {}
    for event in journaled:
        by_task.setdefault(event.task_id, []).append(event.state)
    assert ["pending", "launched", "running", "exec_done"] in by_task.values()
    assert [
        "pending",
        "launched",
        "running",
        "fail_retryable",
        "launched",
        "running",
        "exec_done",
    ] in by_task.values()
    assert ["pending", "memo_done"] in by_task.values()
    assert ["pending", "dep_fail"] in by_task.values()
    assert ["pending", "failed"] in by_task.values()  # failed before it could launch
    assert ["pending", "launched", "running", "joining", "exec_done"] in by_task.values()
    stdout = next(e for e in journaled if e.func_name == "echo" and e.state == "pending")
    assert stdout.stdout == out


def test_running_is_when_the_body_started(make_config) -> None:  # type: ignore[no-untyped-def]
    monitor = JournalAndHooks()
    with plait.load(make_config(monitoring=monitor)) as dfk:
        fut = add(1, 1)
        assert fut.result(timeout=TIMEOUT) == 2
        assert dfk.task_counts()["running"] == 0
    events = {e.state: e for e in monitor.journal_events()}
    running, done = events["running"], events["exec_done"]
    assert running.try_time_launched is not None and running.try_time_running is not None
    assert running.try_time_launched <= running.try_time_running == running.timestamp
    assert done.try_time_running == running.try_time_running
    assert done.try_time_returned is not None
    assert running.try_time_running <= done.try_time_returned
    assert running.block_id is None


def test_a_running_task_counts_as_running(make_config) -> None:  # type: ignore[no-untyped-def]
    release = threading.Event()
    started = threading.Event()

    @python_app
    def wait() -> None:
        started.set()
        release.wait(TIMEOUT)

    with plait.load(make_config(monitoring=JournalAndHooks())) as dfk:
        fut = wait()
        assert started.wait(TIMEOUT)
        assert dfk.task_counts()["running"] == 1
        assert dfk.task_counts_by_app()["wait"] == {"running": 1}
        release.set()
        fut.result(timeout=TIMEOUT)


class StartsInSubmit(Executor):
    """Runs each task inside submit, reporting it running before submit returns: the
    kernel has not yet tied the future to its task then."""

    plugin_name = "starts-in-submit"

    def __init__(self, label: str = "inline") -> None:
        self.label = label

    def submit(self, func: Any, resource_specification: dict[str, Any], *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        fut: Future[Any] = LeanFuture()
        report = self.on_task_running
        if report is not None:
            report(fut, 123.0, "block-7")
        fut.set_result(func(*args, **kwargs))
        return fut

    def shutdown(self) -> None:
        pass


def test_running_reported_before_submit_returns_is_kept(tmp_path) -> None:
    monitor = JournalAndHooks()
    config = Config(executors=[StartsInSubmit()], run_dir=str(tmp_path), monitoring=monitor)
    with plait.load(config):
        assert add(2, 2).result(timeout=TIMEOUT) == 4
    states = [(e.state, e.try_time_running, e.block_id) for e in monitor.journal_events()]
    assert states == [
        ("pending", None, None),
        ("launched", None, None),
        ("running", 123.0, "block-7"),
        ("exec_done", 123.0, "block-7"),
    ]


def test_no_monitor_means_no_running_reports(make_config) -> None:  # type: ignore[no-untyped-def]
    executor = ThreadPoolExecutor(max_threads=1)
    with plait.load(make_config(executors=[executor])) as dfk:
        assert executor.on_task_running is None
        assert dfk._journal_append is None
        assert add(1, 1).result(timeout=TIMEOUT) == 2


def test_take_while_appending_loses_nothing() -> None:
    journal = TaskJournal("run")
    count = 200_000
    taken: list[tuple[Any, ...]] = []

    def produce() -> None:
        for i in range(count):
            journal.append((i,))

    producer = threading.Thread(target=produce)
    producer.start()
    while producer.is_alive():
        taken.extend(journal.take())
    producer.join()
    taken.extend(journal.take())
    assert [entry[0] for entry in taken] == list(range(count))
    assert len(journal) == 0


def test_a_reader_skips_tasks_it_never_saw_start() -> None:
    reader = JournalReader("run")
    events = reader.events(
        [
            (1, "launched", 0, 1.0),
            (2, "pending", 0, 1.0, "f", "threads", 0.5, (), None, None, False),
            (1, "exec_done", 0, 2.0),
            (2, "failed", 0, 2.0, "ValueError: x"),
        ]
    )
    assert [(e.task_id, e.state, e.error) for e in events] == [
        (2, "pending", None),
        (2, "failed", "ValueError: x"),
    ]
    assert reader.skipped == 2


def test_a_second_journal_gets_every_entry_too(make_config) -> None:  # type: ignore[no-untyped-def]
    first, second = JournalAndHooks(), JournalAndHooks()
    with plait.load(make_config(monitoring=first)) as dfk:
        dfk.add_monitor(second)
        assert add(1, 1).result(timeout=TIMEOUT) == 2
    # pending and launched in one entry (launched in the call), then running, exec_done
    assert len(second.journal) == len(first.journal) == 3
    events = first.journal_events()
    assert len(events) == 4 and events == second.journal_events()
