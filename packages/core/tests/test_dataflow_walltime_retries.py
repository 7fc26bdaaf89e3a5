"""walltime on python apps, and retries with Config(retries=...) and retry_handler."""

from __future__ import annotations

import threading
import time

import pytest

import plait
from plait import python_app
from plait.errors import AppTimeout

TIMEOUT = 10


class Flaky(Exception):
    """Raised by apps that fail a given number of times."""


def _counter():
    lock = threading.Lock()
    calls = [0]

    def bump() -> int:
        with lock:
            calls[0] += 1
            return calls[0]

    return calls, bump


def test_walltime_raises_app_timeout_promptly(dfk):
    release = threading.Event()

    @python_app
    def slow(walltime=None):
        release.wait(30)  # far longer than the walltime
        return "too late"

    started = time.monotonic()
    fut = slow(walltime=0.2)
    try:
        with pytest.raises(AppTimeout) as info:
            fut.result(timeout=TIMEOUT)
        assert time.monotonic() - started < 5
    finally:
        release.set()
    assert "walltime" in str(info.value)
    assert "slow" in str(info.value)
    assert fut.task_status() == "failed"


def test_walltime_not_reached_returns_result(dfk):
    @python_app
    def quick():
        return "in time"

    assert quick(walltime=30).result(timeout=TIMEOUT) == "in time"


def test_walltime_body_without_walltime_param(dfk):
    release = threading.Event()

    @python_app
    def slow():
        release.wait(30)

    fut = slow(walltime=0.1)
    try:
        assert isinstance(fut.exception(timeout=TIMEOUT), AppTimeout)
    finally:
        release.set()


def test_late_result_of_timed_out_task_is_discarded(dfk):
    release = threading.Event()
    finished = threading.Event()

    @python_app
    def slow():
        release.wait(30)
        finished.set()
        return "late"

    fut = slow(walltime=0.1)
    exc = fut.exception(timeout=TIMEOUT)
    release.set()
    assert finished.wait(TIMEOUT)
    assert isinstance(exc, AppTimeout)
    assert fut.exception() is exc


def test_retries_succeed_on_third_try(make_config):
    calls, bump = _counter()

    @python_app
    def flaky():
        n = bump()
        if n < 3:
            raise Flaky(f"try {n}")
        return f"ok on try {n}"

    with plait.load(make_config(retries=2)):
        fut = flaky()
        assert fut.result(timeout=TIMEOUT) == "ok on try 3"
        assert fut.task_status() == "exec_done"
        assert fut.task_record["fail_count"] == 2
    assert calls[0] == 3


def test_retries_exhausted_gives_last_exception(make_config):
    calls, bump = _counter()

    @python_app
    def always_fails():
        raise Flaky(f"try {bump()}")

    with plait.load(make_config(retries=2)), pytest.raises(Flaky, match="try 3"):
        always_fails().result(timeout=TIMEOUT)
    assert calls[0] == 3


def test_no_retries_by_default(dfk):
    calls, bump = _counter()

    @python_app
    def fails_once():
        if bump() == 1:
            raise Flaky("first")
        return "second"

    with pytest.raises(Flaky):
        fails_once().result(timeout=TIMEOUT)
    assert calls[0] == 1


def test_retry_handler_cost_limits_tries(make_config):
    calls, bump = _counter()
    seen = []

    def expensive(exc, task_record):
        seen.append((type(exc), task_record["func_name"]))
        return 2.0

    @python_app
    def always_fails():
        bump()
        raise Flaky("x")

    # cost 2 per failure, retries=3: after one failure the sum (2) is <= 3, after two (4) it is not
    with plait.load(make_config(retries=3, retry_handler=expensive)):
        always_fails().exception(timeout=TIMEOUT)
    assert calls[0] == 2
    assert seen == [(Flaky, "always_fails")] * 2


def test_retry_handler_cheap_failures_allow_more_tries(make_config):
    calls, bump = _counter()

    @python_app
    def flaky():
        if bump() < 4:
            raise Flaky("again")
        return "fourth"

    with plait.load(make_config(retries=1, retry_handler=lambda exc, task: 0.25)):
        assert flaky().result(timeout=TIMEOUT) == "fourth"
    assert calls[0] == 4


def test_retry_handler_can_refuse_some_errors(make_config):
    calls, bump = _counter()

    def only_flaky(exc, task_record):
        return 1.0 if isinstance(exc, Flaky) else 100.0

    @python_app
    def fatal():
        bump()
        raise KeyError("fatal")

    with plait.load(make_config(retries=5, retry_handler=only_flaky)):
        assert isinstance(fatal().exception(timeout=TIMEOUT), KeyError)
    assert calls[0] == 1


def test_retry_handler_raising_becomes_task_exception(make_config):
    class HandlerBroke(Exception):
        pass

    def broken(exc, task_record):
        raise HandlerBroke("handler failed")

    @python_app
    def fails():
        raise Flaky("original")

    with plait.load(make_config(retries=3, retry_handler=broken)):
        exc = fails().exception(timeout=TIMEOUT)
    assert isinstance(exc, HandlerBroke)
    assert str(exc) == "handler failed"


def test_walltime_then_retry_succeeds(make_config):
    _calls, bump = _counter()
    release = threading.Event()

    @python_app
    def slow_first():
        if bump() == 1:
            release.wait(30)
            return "first, late"
        return "second, in time"

    with plait.load(make_config(retries=1)):
        try:
            assert slow_first(walltime=0.2).result(timeout=TIMEOUT) == "second, in time"
        finally:
            release.set()


def test_walltime_does_not_count_time_queued_behind_busy_threads(make_config):
    @python_app
    def busy():
        time.sleep(1.0)  # keeps the only thread busy well past the next task's walltime
        return "busy"

    @python_app
    def quick():
        return "quick"

    with plait.load(make_config(executors=[plait.ThreadPoolExecutor(max_threads=1)])):
        first = busy()
        second = quick(walltime=0.3)
        assert first.result(timeout=TIMEOUT) == "busy"
        assert second.result(timeout=TIMEOUT) == "quick"


def test_dependency_failure_is_not_retried(make_config):
    calls, bump = _counter()

    @python_app
    def fails():
        bump()
        raise Flaky("root")

    @python_app
    def child(x):
        return x

    with plait.load(make_config(retries=2)):
        exc = child(fails()).exception(timeout=TIMEOUT)
    assert type(exc).__name__ == "DependencyError"
    assert calls[0] == 3  # the root was retried; the dependent ran no tries at all


def test_retried_failure_is_cached_only_once_final(make_config):
    calls, bump = _counter()

    @python_app(cache=True)
    def flaky(x):
        if bump() < 2:
            raise Flaky("first")
        return x

    with plait.load(make_config(retries=1)):
        assert flaky(1).result(timeout=TIMEOUT) == 1
        assert flaky(1).result(timeout=TIMEOUT) == 1
    assert calls[0] == 2
