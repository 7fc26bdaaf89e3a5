"""AppFuture is a full concurrent.futures.Future, and a light one to keep by the thousand."""

from __future__ import annotations

import collections
import concurrent.futures
import gc
import threading
from concurrent.futures import Future

import pytest

from plait import python_app
from plait.dataflow.futures import AppFuture
from plait.dataflow.taskrecord import TaskRecord
from plait.lean_future import LeanFuture

TIMEOUT = 10


@python_app
def double(x):
    return 2 * x


@python_app
def wait_for(gate):
    return gate


def _bare_future() -> AppFuture:
    record = TaskRecord(None, 1, double, "double", (), {}, "threads", 0.0)  # type: ignore[arg-type]
    return AppFuture(record)


def test_has_every_field_of_the_standard_future() -> None:
    """LeanFuture sets Future's fields itself (with a lighter condition): a Python that
    adds a field to Future must not leave it, or AppFuture, without it."""
    assert set(vars(Future())) == set(vars(LeanFuture()))
    assert set(vars(Future())) <= set(vars(_bare_future()))


def test_waiting_threads_are_woken_by_the_result() -> None:
    fut = _bare_future()
    got: list[object] = []
    waiters = [threading.Thread(target=lambda: got.append(fut.result(TIMEOUT))) for _ in range(3)]
    for waiter in waiters:
        waiter.start()
    with pytest.raises(concurrent.futures.TimeoutError):
        fut.result(timeout=0.01)
    fut.set_result(42)
    for waiter in waiters:
        waiter.join(TIMEOUT)
    assert got == [42, 42, 42]
    assert fut.exception() is None


def test_standard_helpers_work_on_app_futures(dfk) -> None:
    gate: Future[int] = Future()
    futures = [double(i) for i in range(5)]
    blocked = wait_for(gate)
    done, not_done = concurrent.futures.wait(futures, timeout=TIMEOUT)
    assert done == set(futures) and not not_done
    assert sorted(f.result() for f in concurrent.futures.as_completed(futures, TIMEOUT)) == [
        0,
        2,
        4,
        6,
        8,
    ]
    _, pending = concurrent.futures.wait([blocked], timeout=0.01)
    assert pending == {blocked}
    gate.set_result(7)
    assert blocked.result(timeout=TIMEOUT) == 7
    seen: list[int] = []
    blocked.add_done_callback(lambda f: seen.append(f.result()))  # already done: runs now
    assert seen == [7]


def test_a_finished_task_keeps_few_objects_for_the_gc(dfk) -> None:
    """Each finished task whose future the user keeps costs the cyclic GC five objects
    (future, its condition and lock, its waiter list, task record): every full
    collection walks them all for as long as they are kept."""
    for fut in [double(i) for i in range(100)]:
        fut.result(TIMEOUT)
    gc.collect()
    before = collections.Counter(type(o) for o in gc.get_objects())
    kept = [double(i) for i in range(1000)]
    for fut in kept:
        fut.result(TIMEOUT)
    gc.collect()
    grown = collections.Counter(type(o) for o in gc.get_objects()) - before
    assert sum(grown.values()) / len(kept) <= 5.5, grown.most_common(8)
