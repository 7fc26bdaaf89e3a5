"""join_app: a body that calls apps and returns their future(s)."""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from plait import join_app, python_app
from plait.errors import JoinError

TIMEOUT = 30


class InnerError(Exception):
    """Raised by an inner app."""


@python_app
def const(x):
    return x


@python_app
def add(a, b):
    return a + b


@python_app
def inner_fails(message):
    raise InnerError(message)


@join_app
def one_inner(x):
    return add(x, 1)


@join_app
def many_inner(n):
    return [const(i) for i in range(n)]


@join_app
def empty():
    return []


@join_app
def wrong_type():
    return 42


@join_app
def list_with_non_future():
    return [const(1), 2]


@join_app
def inner_failure():
    return inner_fails("inside the join")


@join_app
def partly_failing():
    return [const(1), inner_fails("one of two")]


@join_app
def body_raises():
    raise InnerError("in the body itself")


@join_app
def fib(n):
    if n < 2:
        return const(n)
    return add(fib(n - 1), fib(n - 2))


def test_join_returning_one_future_gives_its_result(dfk):
    assert one_inner(41).result(timeout=TIMEOUT) == 42


def test_join_returning_list_gives_list_of_results(dfk):
    assert many_inner(5).result(timeout=TIMEOUT) == [0, 1, 2, 3, 4]


def test_join_returning_empty_list_gives_empty_list(dfk):
    assert empty().result(timeout=TIMEOUT) == []


def test_join_status_is_exec_done(dfk):
    fut = one_inner(1)
    fut.result(timeout=TIMEOUT)
    assert fut.task_status() == "exec_done"


def test_join_returning_non_future_fails_with_type_error(dfk):
    exc = wrong_type().exception(timeout=TIMEOUT)
    assert isinstance(exc, TypeError)
    assert "wrong_type" in str(exc)
    assert "int" in str(exc)


def test_join_returning_list_with_non_future_fails_with_type_error(dfk):
    assert isinstance(list_with_non_future().exception(timeout=TIMEOUT), TypeError)


def test_inner_failure_gives_join_error(dfk):
    exc = inner_failure().exception(timeout=TIMEOUT)
    assert isinstance(exc, JoinError)
    assert isinstance(exc.__cause__, InnerError)
    assert "InnerError: inside the join" in str(exc)
    assert "inner_fails" in str(exc)


def test_one_of_several_inner_failures_gives_join_error(dfk):
    exc = partly_failing().exception(timeout=TIMEOUT)
    assert isinstance(exc, JoinError)
    assert "one of two" in str(exc)


def test_body_exception_is_the_task_exception(dfk):
    with pytest.raises(InnerError, match="in the body itself"):
        body_raises().result(timeout=TIMEOUT)


def test_join_of_plain_future(dfk):
    gate: Future[str] = Future()

    @join_app
    def returns_gate():
        return gate

    fut = returns_gate()
    assert not fut.done()
    gate.set_result("opened")
    assert fut.result(timeout=TIMEOUT) == "opened"


def test_join_waits_on_its_arguments(dfk):
    gate: Future[int] = Future()
    fut = one_inner(gate)
    assert fut.task_status() == "pending"
    gate.set_result(9)
    assert fut.result(timeout=TIMEOUT) == 10


def test_join_result_feeds_another_app(dfk):
    assert add(one_inner(1), 100).result(timeout=TIMEOUT) == 102


@pytest.mark.parametrize(("n", "expected"), [(0, 0), (1, 1), (2, 1), (7, 13), (12, 144)])
def test_recursive_fibonacci_with_join_apps(dfk, n, expected):
    assert fib(n).result(timeout=TIMEOUT) == expected


def test_nested_join_apps(dfk):
    @join_app
    def outer(x):
        return one_inner(x)

    assert outer(1).result(timeout=TIMEOUT) == 2
