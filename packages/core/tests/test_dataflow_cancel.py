"""AppFuture.cancel(): what can be cancelled, and what cancelling does."""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError, Future

import pytest

import plait
from plait import File, python_app
from plait.errors import DependencyError

TIMEOUT = 10


@python_app
def inc(x):
    return x + 1


def test_cancel_task_waiting_on_dependency(dfk):
    gate: Future[int] = Future()
    fut = inc(gate)
    assert fut.cancel() is True
    assert fut.cancelled() is True
    assert fut.done()
    assert fut.task_status() == "cancelled"
    with pytest.raises(CancelledError):
        fut.result(timeout=TIMEOUT)
    gate.set_result(1)  # the cancelled task must not come back to life
    assert fut.cancelled()


def test_cancelled_task_body_never_runs(dfk):
    ran = threading.Event()

    @python_app
    def body(x):
        ran.set()
        return x

    gate: Future[int] = Future()
    fut = body(gate)
    assert fut.cancel()
    gate.set_result(1)
    # a later task on the same executor finishing proves the queue moved on
    assert inc(1).result(timeout=TIMEOUT) == 2
    assert not ran.is_set()


def test_cancel_twice_is_true_both_times(dfk):
    gate: Future[int] = Future()
    fut = inc(gate)
    assert fut.cancel() is True
    assert fut.cancel() is True


def test_cancel_finished_task_returns_false(dfk):
    fut = inc(1)
    assert fut.result(timeout=TIMEOUT) == 2
    assert fut.cancel() is False
    assert not fut.cancelled()
    assert fut.result() == 2


def test_cancel_running_thread_task_returns_false(dfk):
    started = threading.Event()
    release = threading.Event()

    @python_app
    def running():
        started.set()
        release.wait(TIMEOUT)
        return "finished"

    fut = running()
    try:
        assert started.wait(TIMEOUT)
        assert fut.cancel() is False
        assert not fut.cancelled()
    finally:
        release.set()
    assert fut.result(timeout=TIMEOUT) == "finished"


def test_cancel_task_queued_behind_busy_executor(make_config):
    started = threading.Event()
    release = threading.Event()
    ran = threading.Event()

    @python_app
    def busy():
        started.set()
        release.wait(TIMEOUT)
        return 1

    @python_app
    def queued():
        ran.set()
        return 2

    with plait.load(make_config(executors=[plait.ThreadPoolExecutor(max_threads=1)])):
        first = busy()
        assert started.wait(TIMEOUT)
        second = queued()
        assert second.cancel() is True
        assert second.cancelled()
        release.set()
        assert first.result(timeout=TIMEOUT) == 1
        assert inc(0).result(timeout=TIMEOUT) == 1
    assert not ran.is_set()


def test_dependent_of_cancelled_task_fails(dfk):
    gate: Future[int] = Future()
    fut = inc(gate)
    child = inc(fut)
    fut.cancel()
    with pytest.raises(DependencyError):
        child.result(timeout=TIMEOUT)


def test_cancel_counts_as_cancelled(dfk):
    gate: Future[int] = Future()
    inc(gate).cancel()
    assert dfk.task_counts()["cancelled"] == 1


def test_cancel_through_data_future(dfk, tmp_path):
    @python_app
    def write(gate, outputs=()):
        return gate

    gate: Future[int] = Future()
    fut = write(gate, outputs=[File(str(tmp_path / "x"))])
    data = fut.outputs[0]
    assert data.cancel() is True
    assert fut.cancelled()
    assert data.cancelled()
