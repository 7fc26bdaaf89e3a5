"""DependencyError: what a task that could not run because an input failed reports."""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError, Future

import pytest

from plait import python_app
from plait.dataflow.errors import DependencyError as DependencyErrorAtParslPath
from plait.errors import DataFlowException, DependencyError, PropagatedException

TIMEOUT = 10


class RootError(Exception):
    """The root failure of these tests."""


@python_app
def explode(message):
    raise RootError(message)


@python_app
def crash_with_value_error():
    raise ValueError("bad number 13")


@python_app
def inc(x):
    return x + 1


@python_app
def add(a, b):
    return a + b


def test_dependent_of_failed_task_gets_dependency_error(dfk):
    root = explode("disk on fire")
    child = inc(root)
    with pytest.raises(DependencyError):
        child.result(timeout=TIMEOUT)
    assert child.task_status() == "dep_fail"


def test_dependency_error_str_names_root_task_function_type_and_message(dfk):
    root = crash_with_value_error()
    child = inc(root)
    text = str(child.exception(timeout=TIMEOUT))
    assert f"task {root.tid} (crash_with_value_error)" in text
    assert "ValueError" in text
    assert "bad number 13" in text
    assert f"task {child.tid}" in text


def test_dependency_error_cause_is_root_exception(dfk):
    root = explode("root cause")
    child = inc(root)
    exc = child.exception(timeout=TIMEOUT)
    assert isinstance(exc, DependencyError)
    assert exc.__cause__ is root.exception()
    assert isinstance(exc.__cause__, RootError)
    assert exc.task_id == child.tid


def test_dependency_error_is_at_parsl_path_and_in_hierarchy():
    assert DependencyErrorAtParslPath is DependencyError
    assert issubclass(DependencyError, PropagatedException)
    assert issubclass(DependencyError, DataFlowException)


def test_two_level_propagation_names_the_root(dfk):
    root = explode("deep")
    middle = inc(root)
    leaf = inc(middle)
    exc = leaf.exception(timeout=TIMEOUT)
    assert isinstance(exc, DependencyError)
    text = str(exc)
    assert f"task {root.tid} (explode)" in text
    assert "RootError: deep" in text
    assert f"task {middle.tid} (inc)" in text
    assert exc.__cause__ is root.exception()
    roots = exc.root_causes()
    assert len(roots) == 1
    assert roots[0][0] is root.exception()


def test_two_failed_inputs_list_both_roots(dfk):
    a = explode("first")
    b = crash_with_value_error()
    child = add(a, b)
    exc = child.exception(timeout=TIMEOUT)
    assert isinstance(exc, DependencyError)
    text = str(exc)
    assert "2 root causes" in text
    assert "RootError: first" in text
    assert "ValueError: bad number 13" in text
    assert {id(e) for e, _ in exc.root_causes()} == {id(a.exception()), id(b.exception())}


def test_shared_root_reported_once(dfk):
    root = explode("once")
    left = inc(root)
    right = inc(root)
    leaf = add(left, right)
    exc = leaf.exception(timeout=TIMEOUT)
    assert len(exc.root_causes()) == 1
    assert "root causes" not in str(exc)


def test_one_good_and_one_bad_input_still_fails(dfk):
    child = add(inc(1), explode("half"))
    assert isinstance(child.exception(timeout=TIMEOUT), DependencyError)


def test_failed_input_inside_container_fails_dependent(dfk):
    @python_app
    def first(items):
        return items[0]

    child = first([inc(1), {"k": explode("hidden")}])
    exc = child.exception(timeout=TIMEOUT)
    assert isinstance(exc, DependencyError)
    assert "hidden" in str(exc)


def test_failed_plain_future_gives_dependency_error(dfk):
    gate: Future[int] = Future()
    child = inc(gate)
    gate.set_exception(RootError("outside"))
    exc = child.exception(timeout=TIMEOUT)
    assert isinstance(exc, DependencyError)
    assert "RootError: outside" in str(exc)
    assert exc.__cause__ is gate.exception()


def test_dependents_of_cancelled_task_get_dependency_error(dfk):
    gate: Future[int] = Future()
    waiting = inc(gate)
    child = inc(waiting)
    grandchild = inc(child)
    assert waiting.cancel() is True
    exc = child.exception(timeout=TIMEOUT)
    assert isinstance(exc, DependencyError)
    assert isinstance(exc.__cause__, CancelledError)
    assert f"task {waiting.tid} (inc)" in str(exc)
    assert "cancelled" in str(exc)
    assert isinstance(grandchild.exception(timeout=TIMEOUT), DependencyError)
    gate.set_result(0)


def test_task_never_runs_when_input_failed(dfk):
    ran = threading.Event()

    @python_app
    def should_not_run(x):
        ran.set()
        return x

    fut = should_not_run(explode("stop"))
    fut.exception(timeout=TIMEOUT)
    assert not ran.is_set()
