"""Core's serializers: pickle (default), dill, and by-reference for importable functions."""

from __future__ import annotations

import importlib
import pickle
import sys
import types
from typing import Any

from plait.errors import DeserializationError
from plait.serialize.base import Serializer
from plait.serialize.function_cache import pickled_by_value


class PickleSerializer(Serializer):
    """The standard library's pickle, highest protocol: fast, for plain data."""

    plugin_name = "pickle"

    def serialize(self, obj: Any) -> bytes:
        """Pickled ``obj``.

        :raises pickle.PicklingError: ``obj`` refers to something in ``__main__`` (a
            function or class of the user's script) by name, which a worker, whose
            ``__main__`` is another program, cannot import; dill, next in line,
            sends such things by value.
        """
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        if b"__main__" in data:
            raise pickle.PicklingError(
                f"{type(obj).__qualname__} refers to __main__ by name, which workers cannot import"
            )
        return data

    def deserialize(self, data: bytes | memoryview) -> Any:
        """Unpickled ``data``."""
        return pickle.loads(data)


class DillSerializer(Serializer):
    """dill: lambdas, closures and functions defined in ``__main__`` or a notebook."""

    plugin_name = "dill"

    def serialize(self, obj: Any) -> bytes:
        """``obj`` pickled by dill (imported on first use: it is slow to import). A function
        is pickled again only when something it captures changed (see
        :mod:`plait.serialize.function_cache`)."""
        if isinstance(obj, types.FunctionType):
            return pickled_by_value(obj, _dill_dumps)
        return _dill_dumps(obj)

    def deserialize(self, data: bytes | memoryview) -> Any:
        """``data`` unpickled by dill."""
        import dill

        return dill.loads(bytes(data))


def _dill_dumps(obj: Any) -> bytes:
    import dill

    return bytes(dill.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL, recurse=True))


def function_reference(obj: Any) -> str | None:
    """``module:qualname`` naming ``obj`` if it can be imported back by that name, else None.

    A function decorated as an app is reachable through the app object that
    wraps it (``__wrapped__``), which is what its module attribute holds.
    """
    if not isinstance(obj, types.FunctionType | types.BuiltinFunctionType):
        return None
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        return None
    found = _lookup(sys.modules.get(module), qualname)
    if found is obj or (found is not None and getattr(found, "__wrapped__", None) is obj):
        return f"{module}:{qualname}"
    return None


def resolve_reference(reference: str) -> Any:
    """The function a :func:`function_reference` names, imported from its module.

    :raises DeserializationError: the module or the name is not there.
    """
    module_name, _, qualname = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DeserializationError(
            f"function {qualname} lives in module {module_name}, which is not importable "
            f"here ({exc}); install it where the tasks run"
        ) from exc
    found = _lookup(module, qualname)
    if found is None:
        raise DeserializationError(f"module {module_name} has no function {qualname}")
    return getattr(found, "__wrapped__", found)


class ByReferenceSerializer(Serializer):
    """A module-level function in an importable module, sent as ``module:qualname``.

    The smallest and fastest form for functions, and it cannot break across dill
    versions; the worker needs the same module installed.
    """

    plugin_name = "byref"

    def __init__(self) -> None:
        # The reference :meth:`accepts` found, for the :meth:`serialize` call that
        # follows it (once per task). Only reused for that very object: a name
        # rebound since an earlier task must be looked up again.
        self._accepted: tuple[Any, str | None] = (None, None)

    def accepts(self, obj: Any) -> bool:
        """Functions defined at module level outside ``__main__`` (apps included)."""
        reference = function_reference(obj)
        self._accepted = (obj, reference)
        return reference is not None

    def serialize(self, obj: Any) -> bytes:
        """``module:qualname`` of ``obj``."""
        accepted, reference = self._accepted
        self._accepted = (None, None)
        if accepted is not obj:
            reference = function_reference(obj)
        if reference is None:
            raise TypeError(f"{obj!r} is not an importable module-level function")
        return reference.encode()

    def deserialize(self, data: bytes | memoryview) -> Any:
        """The function, imported from its module."""
        return resolve_reference(bytes(data).decode())


def _lookup(module: Any, qualname: str) -> Any:
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj
