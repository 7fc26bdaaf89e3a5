"""Core's serializers: pickle (default), dill, and by-reference for importable functions."""

from __future__ import annotations

import importlib
import pickle
import sys
import types
from typing import Any

from plait.errors import DeserializationError
from plait.serialize.base import Serializer


class PickleSerializer(Serializer):
    """The standard library's pickle, highest protocol: fast, for plain data."""

    plugin_name = "pickle"

    def serialize(self, obj: Any) -> bytes:
        """Pickled ``obj``."""
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)

    def deserialize(self, data: bytes | memoryview) -> Any:
        """Unpickled ``data``."""
        return pickle.loads(data)


class DillSerializer(Serializer):
    """dill: lambdas, closures and functions defined in ``__main__`` or a notebook."""

    plugin_name = "dill"

    def serialize(self, obj: Any) -> bytes:
        """``obj`` pickled by dill (imported on first use: it is slow to import)."""
        import dill

        return bytes(dill.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL, recurse=True))

    def deserialize(self, data: bytes | memoryview) -> Any:
        """``data`` unpickled by dill."""
        import dill

        return dill.loads(bytes(data))


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
