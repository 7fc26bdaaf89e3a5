"""The wire format: the header names a registered serializer; errors name the argument."""

from __future__ import annotations

import sys

import pytest

from plait.errors import DeserializationError, SerializationError
from plait.serialize import pack, pack_apply, unpack, unpack_apply
from plait.serialize.builtin import ByReferenceSerializer, PickleSerializer


def module_level(x: int, y: int = 0) -> int:
    return x + y


def test_round_trip_of_a_call_with_importable_function() -> None:
    data = pack_apply(module_level, (1,), {"y": 2})
    assert data.split(b"\n")[3].startswith(b"byref")  # function sent by reference
    func, args, kwargs = unpack_apply(data)
    assert func(*args, **kwargs) == 3


def test_lambdas_and_closures_go_by_dill() -> None:
    base = 10
    func, args, kwargs = unpack_apply(pack_apply(lambda x: x + base, (5,), {}))
    assert func(*args, **kwargs) == 15


def test_unpicklable_argument_is_named_by_position_and_keyword() -> None:
    stream = (i for i in range(3))  # neither pickle nor dill can ship a generator
    with pytest.raises(SerializationError) as info:
        pack_apply(module_level, (1, stream), {}, app_name="analyse")
    text = str(info.value)
    assert "argument 1 of app analyse, type generator" in text and "Fix:" in text
    with pytest.raises(SerializationError, match="keyword argument 'y' of app analyse"):
        pack_apply(module_level, (1,), {"y": stream}, app_name="analyse")


def test_header_dispatches_only_to_given_serializers() -> None:
    data = pack({"a": 1})
    assert data.startswith(b"pickle\n")
    assert unpack(data, {"pickle": PickleSerializer()}) == {"a": 1}
    with pytest.raises(DeserializationError, match="not one of"):
        unpack(data, {"byref": ByReferenceSerializer()})
    # a header naming a module is not imported: it is just an unknown name
    before = set(sys.modules)
    with pytest.raises(DeserializationError):
        unpack(b"antigravity\npayload")
    assert "antigravity" not in set(sys.modules) - before


def test_byref_refuses_main_and_nested_functions() -> None:
    def nested() -> None:
        pass

    serializer = ByReferenceSerializer()
    assert serializer.accepts(module_level)
    assert not serializer.accepts(nested)
    assert not serializer.accepts(lambda: None)
