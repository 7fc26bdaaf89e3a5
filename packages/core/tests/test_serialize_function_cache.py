"""Functions pickled by value are pickled again exactly when something they capture changed."""

from __future__ import annotations

import types
from typing import Any

import pytest

from plait.serialize import pack, unpack
from plait.serialize.builtin import DillSerializer, PickleSerializer
from plait.serialize.function_cache import fingerprint

SCRIPT = """
import math

SCALE = 3
TABLE = [1, 2]
NAMES = ("a", "b")

class Local:
    size = 1

def helper(x):
    return x * SCALE

def uses_scalar(x):
    return helper(x) + math.floor(0.5)

def uses_list(i):
    return TABLE[i]

def uses_tuple():
    return NAMES

def uses_class():
    return Local.size

def make_closure(n):
    def inner():
        return n
    return inner
"""


def script() -> dict[str, Any]:
    """The namespace of a user's script: its functions live in ``__main__``."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(SCRIPT, "<script>", "exec"), namespace)
    return namespace


def run(data: bytes, *args: Any) -> Any:
    return unpack(data)(*args)


@pytest.fixture
def dill() -> DillSerializer:
    return DillSerializer()


def test_unchanged_function_reuses_its_bytes(dill: DillSerializer) -> None:
    ns = script()
    first = dill.serialize(ns["uses_scalar"])
    assert dill.serialize(ns["uses_scalar"]) is first


def test_rebound_global_is_seen(dill: DillSerializer) -> None:
    ns = script()
    data = pack(ns["uses_scalar"], (DillSerializer(),))
    assert run(data, 2) == 6
    ns["SCALE"] = 10
    assert run(pack(ns["uses_scalar"], (DillSerializer(),)), 2) == 20


def test_rebound_helper_function_is_seen(dill: DillSerializer) -> None:
    ns = script()
    assert run(pack(ns["uses_scalar"], (dill,)), 2) == 6
    exec("def helper(x):\n    return -x", ns)
    assert run(pack(ns["uses_scalar"], (dill,)), 2) == -2


def test_global_list_changed_in_place_is_seen(dill: DillSerializer) -> None:
    ns = script()
    assert run(pack(ns["uses_list"], (dill,)), 1) == 2
    ns["TABLE"][1] = 99
    assert run(pack(ns["uses_list"], (dill,)), 1) == 99


def test_closure_cells_are_compared(dill: DillSerializer) -> None:
    ns = script()
    one, two = ns["make_closure"](1), ns["make_closure"](2)
    assert run(pack(one, (dill,))) == 1
    assert run(pack(two, (dill,))) == 2


@pytest.mark.parametrize(
    ("name", "cacheable"),
    [("uses_scalar", True), ("uses_tuple", True), ("uses_list", True), ("uses_class", False)],
)
def test_what_can_be_fingerprinted(name: str, cacheable: bool) -> None:
    """A class of the script is pickled by value and may change in place: never reused."""
    assert (fingerprint(script()[name]) is not None) is cacheable


def test_function_with_attributes_is_pickled_every_time(dill: DillSerializer) -> None:
    ns = script()
    func: types.FunctionType = ns["uses_tuple"]
    func.tag = ["mutable"]  # type: ignore[attr-defined]
    assert fingerprint(func) is None
    assert dill.serialize(func) is not dill.serialize(func)


def test_pickle_refuses_references_to_main_so_dill_sends_them_by_value() -> None:
    """pickle would send a script's function as a name in ``__main__``, which a worker's
    ``__main__`` does not have; pack() then falls back to dill, which sends it by value."""
    ns = script()
    with pytest.raises(Exception, match="__main__"):
        PickleSerializer().serialize(ns["uses_tuple"])
    data = pack(ns["uses_tuple"], (PickleSerializer(), DillSerializer()))
    assert data.startswith(b"dill\n")
    assert run(data) == ("a", "b")
