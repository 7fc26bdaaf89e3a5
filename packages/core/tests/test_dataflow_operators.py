"""fut["key"], fut[0] and fut.attr: futures for parts of a task's result."""

from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace

import pytest

from plait import AppFuture, python_app
from plait.errors import DependencyError

TIMEOUT = 10


@python_app
def make_dict():
    return {"a": 1, "b": {"c": [10, 20]}}


@python_app
def make_list():
    return ["zero", "one", "two"]


@python_app
def make_namespace():
    return SimpleNamespace(name="plait", size=3)


@python_app
def fail():
    raise OSError("no data")


@python_app
def wait_for(gate):
    return gate


@python_app
def double(x):
    return 2 * x


def test_getitem_with_key_gives_new_future(dfk):
    parent = make_dict()
    part = parent["a"]
    assert isinstance(part, AppFuture)
    assert part is not parent
    assert part.tid != parent.tid
    assert part.result(timeout=TIMEOUT) == 1


def test_getitem_with_index(dfk):
    assert make_list()[0].result(timeout=TIMEOUT) == "zero"
    assert make_list()[-1].result(timeout=TIMEOUT) == "two"


def test_getitem_chained(dfk):
    assert make_dict()["b"]["c"][1].result(timeout=TIMEOUT) == 20


def test_getitem_slice(dfk):
    assert make_list()[1:].result(timeout=TIMEOUT) == ["one", "two"]


def test_getattr_gives_new_future(dfk):
    parent = make_namespace()
    name = parent.name
    assert isinstance(name, AppFuture)
    assert name.result(timeout=TIMEOUT) == "plait"
    assert parent.size.result(timeout=TIMEOUT) == 3


def test_derived_future_feeds_another_app(dfk):
    assert double(make_dict()["a"]).result(timeout=TIMEOUT) == 2


def test_derived_future_waits_for_parent(dfk):
    gate: Future[dict[str, int]] = Future()
    part = wait_for(gate)["k"]
    assert not part.done()
    gate.set_result({"k": 5})
    assert part.result(timeout=TIMEOUT) == 5


def test_bad_key_gives_key_error_in_that_future(dfk):
    parent = make_dict()
    part = parent["missing"]
    with pytest.raises(KeyError):
        part.result(timeout=TIMEOUT)
    assert parent.result(timeout=TIMEOUT)["a"] == 1


def test_bad_index_gives_index_error(dfk):
    with pytest.raises(IndexError):
        make_list()[7].result(timeout=TIMEOUT)


def test_missing_attribute_gives_attribute_error_in_that_future(dfk):
    part = make_namespace().nonexistent
    assert isinstance(part, AppFuture)
    with pytest.raises(AttributeError):
        part.result(timeout=TIMEOUT)


def test_private_attribute_raises_at_once(dfk):
    fut = make_namespace()
    with pytest.raises(AttributeError):
        fut._private  # noqa: B018
    with pytest.raises(AttributeError):
        fut.__array_interface__  # noqa: B018
    assert not hasattr(fut, "_something")
    fut.result(timeout=TIMEOUT)


def test_part_of_failed_parent_gets_dependency_error(dfk):
    parent = fail()
    part = parent["x"]
    exc = part.exception(timeout=TIMEOUT)
    assert isinstance(exc, DependencyError)
    assert "OSError: no data" in str(exc)
