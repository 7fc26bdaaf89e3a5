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


def _pack_parts(obj: Any, order: tuple[Serializer, ...]) -> list[bytes]:
    """``[header, payload]`` of ``obj``, kept apart so callers join everything once."""
    errors = []
    for serializer in order:
        if not serializer.accepts(obj):
            continue
        try:
            payload = serializer.serialize(obj)
        except Exception as exc:
            errors.append(f"{serializer.plugin_name}: {type(exc).__name__}: {exc}")
            continue
        return [serializer.plugin_name.encode() + b"\n", payload]
    raise SerializationError(f"object of type {_type_name(obj)}", "; ".join(errors))


def pack(obj: Any, order: tuple[Serializer, ...] = _DEFAULT_DATA_ORDER) -> bytes:
    """``obj`` with a header naming the first serializer in ``order`` that managed it.

    :raises SerializationError: none of them could.
    """
    return b"".join(_pack_parts(obj, order))


def unpack(
    data: bytes | memoryview, serializers: Mapping[str, Serializer] = DEFAULT_SERIALIZERS
) -> Any:
    """The object in ``data``, using only the serializers in ``serializers``.

    The payload is handed to the serializer as a view, not a copy.

    :raises DeserializationError: the header names no serializer in ``serializers``.
    """
    view = memoryview(data)
    end = bytes(view[:64]).find(b"\n")
    name = bytes(view[: max(end, 0)])
    payload = view[end + 1 :]
    serializer = serializers.get(name.decode(errors="replace")) if end >= 0 else None
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
        parts = [_pack_parts(func, _CALLABLE_ORDER)]
    except SerializationError as exc:
        raise SerializationError(
            f"the function of app {app} ({_type_name(func)})", exc.reason
        ) from None
    for i, arg in enumerate(args):
        try:
            parts.append(_pack_parts(arg, _DEFAULT_DATA_ORDER))
        except SerializationError as exc:
            raise SerializationError(
                f"argument {i} of app {app}, type {_type_name(arg)}", exc.reason
            ) from None
    names = list(kwargs)
    for name in names:
        try:
            parts.append(_pack_parts(kwargs[name], _DEFAULT_DATA_ORDER))
        except SerializationError as exc:
            raise SerializationError(
                f"keyword argument {name!r} of app {app}, type {_type_name(kwargs[name])}",
                exc.reason,
            ) from None
    header = f"{len(args)}\n{_NAME_SEP.join(names)}\n".encode()
    lengths = ",".join(str(len(h) + len(p)) for h, p in parts).encode() + b"\n"
    return b"".join([header, lengths, *(piece for part in parts for piece in part)])


def unpack_apply(
    data: bytes | memoryview, serializers: Mapping[str, Serializer] = DEFAULT_SERIALIZERS
) -> tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]:
    """The ``(func, args, kwargs)`` in a :func:`pack_apply` payload (values are read from
    views of ``data``, not copies)."""
    view = memoryview(data)
    raw = bytes(view[:4096]) if len(view) > 4096 else bytes(view)
    first = raw.index(b"\n")
    second = raw.index(b"\n", first + 1)
    third = raw.find(b"\n", second + 1)
    if third < 0:  # a very long keyword list: read the header from the whole payload
        raw = bytes(view)
        third = raw.index(b"\n", second + 1)
    nargs = int(raw[:first])
    names_line = raw[first + 1 : second]
    lengths = [int(n) for n in raw[second + 1 : third].split(b",")]
    values = []
    offset = third + 1
    for length in lengths:
        values.append(unpack(view[offset : offset + length], serializers))
        offset += length
    names = names_line.decode().split(_NAME_SEP) if names_line else []
    func, args = values[0], tuple(values[1 : 1 + nargs])
    return func, args, dict(zip(names, values[1 + nargs :], strict=True))


def _type_name(obj: Any) -> str:
    cls = type(obj)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
