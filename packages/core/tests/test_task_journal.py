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
from plait.monitoring import Monitor
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


class JournalOnly(Monitor):
    """Records the run the way a database monitor does: a journal and no task hook, so
    the start of most tries is journaled with their end."""

    plugin_name = "journal-only"

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.events: list[TaskStateChanged] = []

    def start(self, run_id: str, run_dir: str, config: Any) -> None:
        self.run_id = run_id

    def bind(self, kernel: Any) -> None:
        self.journal = kernel.task_journal()
        self.reader = JournalReader(kernel.run_id)

    def take(self) -> list[tuple[Any, ...]]:
        """Take the journal's new entries, reading their events into :attr:`events`."""
        entries = self.journal.take()
        self.events.extend(self.reader.events(entries))
        return entries

    def close(self) -> None:
        pass


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


def _waiting_app() -> tuple[Any, threading.Event, threading.Event]:
    """An app whose body says it started, then waits to be released; with the two
    events (started, release)."""
    started, release = threading.Event(), threading.Event()

    @python_app
    def wait() -> int:
        started.set()
        release.wait(TIMEOUT)
        return 7

    return wait, started, release


def test_a_running_task_counts_as_running(make_config) -> None:  # type: ignore[no-untyped-def]
    wait, started, release = _waiting_app()
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


def test_a_start_reported_before_submit_returns_goes_with_the_end(tmp_path) -> None:
    monitor = JournalOnly()
    config = Config(executors=[StartsInSubmit()], run_dir=str(tmp_path), monitoring=monitor)
    with plait.load(config):
        assert add(2, 2).result(timeout=TIMEOUT) == 4
    assert [entry[1] for entry in monitor.take()] == ["pending", "exec_done"]
    states = [(e.state, e.try_time_running, e.block_id) for e in monitor.events]
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


def test_without_task_hooks_a_try_starts_in_the_entry_that_ends_it(make_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monitor = JournalOnly()
    with plait.load(make_config(monitoring=monitor, retries=1)) as dfk:
        assert add(1, 2).result(timeout=TIMEOUT) == 3
        assert flaky(str(tmp_path / "marker")).result(timeout=TIMEOUT) == "ok"
        assert isinstance(boom().exception(timeout=TIMEOUT), ValueError)
        assert joined(1).result(timeout=TIMEOUT) == 2
        assert dfk.task_counts()["running"] == 0
    entries = monitor.take()
    assert not [entry for entry in entries if entry[1] == "running"]
    # one entry for pending and launched, one for running and exec_done
    assert [entry[1] for entry in entries if entry[0] == 0] == ["pending", "exec_done"]
    by_task: dict[int, list[str]] = {}
    for event in monitor.events:
        by_task.setdefault(event.task_id, []).append(event.state)
    retried = ["pending", "launched", "running", "fail_retryable", "launched", "running"]
    assert by_task[0] == ["pending", "launched", "running", "exec_done"]
    assert [*retried, "exec_done"] in by_task.values()  # flaky
    assert [*retried, "failed"] in by_task.values()  # boom
    assert ["pending", "launched", "running", "joining", "exec_done"] in by_task.values()
    for event in monitor.events:
        if event.state in ("running", "exec_done", "failed", "fail_retryable"):
            assert event.try_time_launched is not None and event.try_time_running is not None
            assert event.try_time_launched <= event.try_time_running
        if event.state == "running":
            assert event.timestamp == event.try_time_running and event.try_time_returned is None
        elif event.state == "failed":
            assert event.error == "ValueError: bad input"
            assert event.try_time_running is not None and event.try_time_returned is not None
            assert event.try_time_running <= event.try_time_returned


def test_a_try_still_running_is_journaled_running_once(make_config) -> None:  # type: ignore[no-untyped-def]
    wait, started, release = _waiting_app()
    monitor = JournalOnly()
    with plait.load(make_config(monitoring=monitor)) as dfk:
        fut = wait()
        assert started.wait(TIMEOUT)
        assert dfk.task_counts()["launched"] == 1  # the start waits for the next take
        # the threads executor reports a start before the body runs, and the take
        # journals it after the entry of pending and launched
        taken = monitor.take()
        assert [entry[:3] for entry in taken] == [(fut.tid, "pending", 0), (fut.tid, "running", 0)]
        assert dfk.task_counts()["running"] == 1
        assert dfk.task_counts_by_app()["wait"] == {"running": 1}
        assert monitor.take() == []  # once
        release.set()
        assert fut.result(timeout=TIMEOUT) == 7
    done = monitor.take()
    assert [entry[1] for entry in done] == ["exec_done"]
    assert len(done[0]) == 4  # its start was journaled already
    assert [event.state for event in monitor.events] == [
        "pending",
        "launched",
        "running",
        "exec_done",
    ]
    running, finished = monitor.events[2:]
    assert running.try_time_running == finished.try_time_running is not None


def test_a_reader_makes_running_from_the_entry_that_ends_a_try() -> None:
    reader = JournalReader("run")
    pending = (7, "pending", 0, 1.0, "f", "threads", 1.0, (), None, None, False, 2.0)
    events = reader.events(
        [
            pending,
            (7, "fail_retryable", 0, 4.0, "OSError: x", 3.0, "b1"),
            (7, "launched", 1, 5.0),
            (7, "exec_done", 1, 7.0, None, 6.0, None),
        ]
    )
    fields = [
        (e.state, e.try_id, e.timestamp, e.try_time_running, e.try_time_returned, e.block_id)
        for e in events
    ]
    assert fields == [
        ("pending", 0, 1.0, None, None, None),
        ("launched", 0, 2.0, None, None, None),
        ("running", 0, 3.0, 3.0, None, "b1"),
        ("fail_retryable", 0, 4.0, 3.0, 4.0, "b1"),
        ("launched", 1, 5.0, None, None, None),
        ("running", 1, 6.0, 6.0, None, None),
        ("exec_done", 1, 7.0, 6.0, 7.0, None),
    ]
    assert [e.error for e in events].count("OSError: x") == 1


def test_a_try_past_its_walltime_keeps_its_own_start(make_config) -> None:  # type: ignore[no-untyped-def]
    release = threading.Event()
    calls: list[int] = []

    @python_app
    def slow_first() -> str:
        calls.append(1)
        if len(calls) == 1:
            release.wait(TIMEOUT)
            return "first, late"
        return "second, in time"

    monitor = JournalOnly()
    with plait.load(make_config(monitoring=monitor, retries=1)):
        try:
            assert slow_first(walltime=0.2).result(timeout=TIMEOUT) == "second, in time"
        finally:
            release.set()
    monitor.take()
    started = [(e.try_id, e.try_time_running) for e in monitor.events if e.state == "running"]
    assert [try_id for try_id, _ in started] == [0, 1]
    assert started[0][1] is not None and started[1][1] is not None
    assert started[0][1] < started[1][1]
    assert [e.state for e in monitor.events] == [
        "pending",
        "launched",
        "running",
        "fail_retryable",
        "launched",
        "running",
        "exec_done",
    ]
