"""Packing values and whole task calls, with a header naming the serializer.

Wire format of one value: ``<name>\\n<payload>`` where ``name`` is the
registered serializer name (ASCII, no newline).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from plait.errors import DeserializationError, SerializationError
from plait.serialize.base import Serializer
from plait.serialize.builtin import ByReferenceSerializer, DillSerializer, PickleSerializer

#: Tried in this order for functions; data goes to pickle, then dill.
_DEFAULT_FUNCTION_ORDER: tuple[Serializer, ...] = (ByReferenceSerializer(), DillSerializer())
_DEFAULT_DATA_ORDER: tuple[Serializer, ...] = (PickleSerializer(), DillSerializer())
#: Callables: by reference when importable, else pickle (objects of importable
#: classes), else dill (lambdas, closures, ``__main__``).
_CALLABLE_ORDER: tuple[Serializer, ...] = (
    _DEFAULT_FUNCTION_ORDER[0],
    _DEFAULT_DATA_ORDER[0],
    _DEFAULT_FUNCTION_ORDER[1],
)
_NAME_SEP = "\t"
DEFAULT_SERIALIZERS: Mapping[str, Serializer] = {
    s.plugin_name: s for s in (*_DEFAULT_FUNCTION_ORDER, *_DEFAULT_DATA_ORDER)
}


def pack(obj: Any, order: tuple[Serializer, ...] = _DEFAULT_DATA_ORDER) -> bytes:
    """``obj`` with a header naming the first serializer in ``order`` that managed it.

    :raises SerializationError: none of them could.
    """
    errors = []
    for serializer in order:
        if not serializer.accepts(obj):
            continue
        try:
            payload = serializer.serialize(obj)
        except Exception as exc:
            errors.append(f"{serializer.plugin_name}: {type(exc).__name__}: {exc}")
            continue
        return serializer.plugin_name.encode() + b"\n" + payload
    raise SerializationError(f"object of type {_type_name(obj)}", "; ".join(errors))


def unpack(data: bytes, serializers: Mapping[str, Serializer] = DEFAULT_SERIALIZERS) -> Any:
    """The object in ``data``, using only the serializers in ``serializers``.

    :raises DeserializationError: the header names no serializer in ``serializers``.
    """
    name, sep, payload = bytes(data).partition(b"\n")
    serializer = serializers.get(name.decode(errors="replace")) if sep else None
    if serializer is None:
        raise DeserializationError(
            f"payload names serializer {name[:40]!r}, which is not one of "
            f"{sorted(serializers)}; install the plugin that provides it on both sides"
        )
    return serializer.deserialize(payload)


def pack_apply(
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    app_name: str | None = None,
) -> bytes:
    """A whole call ``func(*args, **kwargs)`` as one payload.

    :raises SerializationError: naming the app, the argument (position or
        keyword) and its type that could not be serialized.
    """
    app = app_name or getattr(func, "__name__", "app")
    try:
        parts = [pack(func, _CALLABLE_ORDER)]
    except SerializationError as exc:
        raise SerializationError(
            f"the function of app {app} ({_type_name(func)})", exc.reason
        ) from None
    for i, arg in enumerate(args):
        try:
            parts.append(pack(arg))
        except SerializationError as exc:
            raise SerializationError(
                f"argument {i} of app {app}, type {_type_name(arg)}", exc.reason
            ) from None
    names = list(kwargs)
    for name in names:
        try:
            parts.append(pack(kwargs[name]))
        except SerializationError as exc:
            raise SerializationError(
                f"keyword argument {name!r} of app {app}, type {_type_name(kwargs[name])}",
                exc.reason,
            ) from None
    header = f"{len(args)}\n{_NAME_SEP.join(names)}\n".encode()
    lengths = ",".join(str(len(p)) for p in parts).encode() + b"\n"
    return header + lengths + b"".join(parts)


def unpack_apply(
    data: bytes, serializers: Mapping[str, Serializer] = DEFAULT_SERIALIZERS
) -> tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]:
    """The ``(func, args, kwargs)`` in a :func:`pack_apply` payload."""
    data = bytes(data)
    nargs_line, _, rest = data.partition(b"\n")
    names_line, _, rest = rest.partition(b"\n")
    lengths_line, _, body = rest.partition(b"\n")
    lengths = [int(n) for n in lengths_line.split(b",")]
    values = []
    offset = 0
    for length in lengths:
        values.append(unpack(body[offset : offset + length], serializers))
        offset += length
    nargs = int(nargs_line)
    names = names_line.decode().split(_NAME_SEP) if names_line else []
    func, args = values[0], tuple(values[1 : 1 + nargs])
    return func, args, dict(zip(names, values[1 + nargs :], strict=True))


def _type_name(obj: Any) -> str:
    cls = type(obj)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
