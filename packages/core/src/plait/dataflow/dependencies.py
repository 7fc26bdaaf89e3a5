"""Finding futures in an app's arguments and replacing them with their results.

Futures are found inside lists, tuples, sets, frozensets and dict keys and
values, nested to any depth, by default (Parsl looks only at top-level
arguments unless configured otherwise, and users kept tripping on it). Other
objects are opaque: plait does not look inside instances of user classes.

Both functions are on the submission hot path, so the common case (plain values
and no containers) costs one ``type()`` lookup per argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

_ATOMIC: frozenset[type] = frozenset(
    {int, float, str, bytes, bool, type(None), complex, range, bytearray}
)
_CONTAINERS: frozenset[type] = frozenset({list, tuple, set, frozenset, dict})


def _gather(obj: Any, found: list[Future[Any]]) -> None:
    cls = type(obj)
    if cls in _ATOMIC:
        return
    if isinstance(obj, Future):
        found.append(obj)
    elif cls in _CONTAINERS:
        if cls is dict:
            for key, value in obj.items():
                _gather(key, found)
                _gather(value, found)
        else:
            for item in obj:
                _gather(item, found)


def find_futures(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Sequence[Future[Any]]:
    """Every distinct future in ``args`` and ``kwargs``, in first-seen order (an empty
    tuple, not a new list, when there is none: most tasks keep this for their lifetime)."""
    if not args and not kwargs:
        return ()
    found: list[Future[Any]] = []
    for arg in args:
        if type(arg) not in _ATOMIC:
            _gather(arg, found)
    for value in kwargs.values():
        if type(value) not in _ATOMIC:
            _gather(value, found)
    if len(found) > 1:
        unique: dict[int, Future[Any]] = {}
        for fut in found:
            unique.setdefault(id(fut), fut)
        found = list(unique.values())
    return found if found else ()


def _unwrap(obj: Any) -> Any:
    cls = type(obj)
    if cls in _ATOMIC:
        return obj
    if isinstance(obj, Future):
        return obj.result()
    if cls is dict:
        return {_unwrap(k): _unwrap(v) for k, v in obj.items()}
    if cls in _CONTAINERS:
        return cls(_unwrap(item) for item in obj)
    return obj


def unwrap_futures(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Copies of ``args`` and ``kwargs`` with every (finished) future replaced by its result.

    Containers are rebuilt with their own type; the caller's objects are not
    modified.
    """
    return (
        tuple(_unwrap(a) for a in args),
        {k: _unwrap(v) for k, v in kwargs.items()},
    )
