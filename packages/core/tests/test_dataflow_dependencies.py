"""Futures passed to apps become dependencies, wherever they sit in the arguments."""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from plait import python_app

TIMEOUT = 10


@python_app
def value(x):
    return x


@python_app
def add(a, b):
    return a + b


@python_app
def identity(obj):
    return obj


@python_app
def kw_only(*, a, b=0):
    return a - b


@python_app
def total(inputs=()):
    return sum(inputs)


def test_future_as_positional_arg(dfk):
    assert add(value(2), value(3)).result(timeout=TIMEOUT) == 5


def test_future_as_kwarg(dfk):
    assert kw_only(a=value(10), b=value(4)).result(timeout=TIMEOUT) == 6


def test_same_future_twice(dfk):
    v = value(7)
    assert add(v, v).result(timeout=TIMEOUT) == 14


def test_futures_inside_list(dfk):
    assert identity([value(1), 2, value(3)]).result(timeout=TIMEOUT) == [1, 2, 3]


def test_futures_inside_tuple(dfk):
    out = identity((value("a"), value("b"))).result(timeout=TIMEOUT)
    assert out == ("a", "b")
    assert type(out) is tuple


def test_futures_inside_set(dfk):
    out = identity({value(1), value(2)}).result(timeout=TIMEOUT)
    assert out == {1, 2}
    assert type(out) is set


def test_futures_inside_frozenset(dfk):
    out = identity(frozenset([value(1), value(2)])).result(timeout=TIMEOUT)
    assert out == frozenset({1, 2})
    assert type(out) is frozenset


def test_futures_as_dict_keys_and_values(dfk):
    out = identity({value("k1"): value(1), "k2": value(2)}).result(timeout=TIMEOUT)
    assert out == {"k1": 1, "k2": 2}


def test_futures_nested_deeply(dfk):
    arg = [({"x": [value(1), (value(2),)]}, {value(3)}), frozenset({value(4)})]
    out = identity(arg).result(timeout=TIMEOUT)
    assert out == [({"x": [1, (2,)]}, {3}), frozenset({4})]


def test_callers_container_is_not_modified(dfk):
    v = value(5)
    arg = [v, {"k": v}]
    assert identity(arg).result(timeout=TIMEOUT) == [5, {"k": 5}]
    assert arg[0] is v
    assert arg[1]["k"] is v


def test_futures_inside_user_objects_are_not_resolved(dfk):
    class Box:
        def __init__(self, item):
            self.item = item

    v = value(1)
    box = identity(Box(v)).result(timeout=TIMEOUT)
    assert box.item is v


def test_chain_of_dependencies(dfk):
    fut = value(0)
    for _ in range(20):
        fut = add(fut, 1)
    assert fut.result(timeout=TIMEOUT) == 20


def test_diamond(dfk):
    top = value(1)
    left = add(top, 10)
    right = add(top, 100)
    bottom = add(left, right)
    assert bottom.result(timeout=TIMEOUT) == 112


def test_fan_in_through_inputs(dfk):
    parts = [value(i) for i in range(10)]
    assert total(inputs=parts).result(timeout=TIMEOUT) == 45


def test_dependent_waits_until_plain_future_is_set(dfk):
    gate: Future[int] = Future()
    fut = add(gate, 1)
    assert fut.task_status() == "pending"
    assert not fut.done()
    gate.set_result(41)
    assert fut.result(timeout=TIMEOUT) == 42


def test_plain_future_already_done(dfk):
    done: Future[str] = Future()
    done.set_result("ready")
    assert identity(done).result(timeout=TIMEOUT) == "ready"


def test_many_dependents_of_one_gate_all_run(dfk):
    gate: Future[int] = Future()
    futs = [add(gate, i) for i in range(30)]
    assert not any(f.done() for f in futs)
    gate.set_result(100)
    assert [f.result(timeout=TIMEOUT) for f in futs] == [100 + i for i in range(30)]


def test_dependency_on_many_plain_futures_set_out_of_order(dfk):
    gates: list[Future[int]] = [Future() for _ in range(5)]
    fut = identity(gates)
    for i in (3, 0, 4, 1):
        gates[i].set_result(i)
        assert not fut.done()
    gates[2].set_result(2)
    assert fut.result(timeout=TIMEOUT) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("width", [1, 2, 64])
def test_wide_fan_out_fan_in(dfk, width):
    top = value(1)
    middles = [add(top, i) for i in range(width)]
    assert total(inputs=middles).result(timeout=TIMEOUT) == sum(1 + i for i in range(width))
