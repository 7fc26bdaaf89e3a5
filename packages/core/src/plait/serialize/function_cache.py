"""Reusing the bytes of a function pickled by value, while nothing it captured changed.

An app defined in a script (``__main__``) or a notebook cannot be imported by the
workers, so dill pickles it by value, with every global it uses: about 400 us
for a small app, on every task, which capped such workflows at ~2,500 tasks/s
while importable apps ran at ~25,000. Parsl caches these bytes per function
and never looks again, so a task can run with a stale global. Here the bytes are
reused only while a *fingerprint* of everything dill would capture is unchanged:

* the function's code, defaults, closure cells and attribute dict, and each
  global its code (and nested code) names, compared by identity when the value
  is immutable or travels by reference (numbers, strings, modules, importable
  classes and functions), by content (its pickle) when it is mutable data;
* helper functions of ``__main__`` that it calls, fingerprinted the same way.

Anything whose content cannot be compared cheaply and safely (a class defined in
``__main__``, an object whose pickle refers to ``__main__``, an unpicklable
value) means: no reuse, pickle afresh every time, exactly as without the cache.
"""

from __future__ import annotations

import pickle
import types
import weakref
from collections.abc import Callable
from functools import lru_cache
from typing import Any

#: values compared by identity: immutable, or pickled by reference
_BY_IDENTITY: tuple[type, ...] = (
    int,
    float,
    complex,
    str,
    bytes,
    bool,
    type(None),
    range,
    types.ModuleType,
    types.BuiltinFunctionType,
    type(Ellipsis),
)
_MISSING = object()
#: nested __main__ functions followed at most this deep
_MAX_DEPTH = 8

_cache: weakref.WeakKeyDictionary[types.FunctionType, tuple[tuple[Any, ...], bytes]] = (
    weakref.WeakKeyDictionary()
)


def pickled_by_value(func: types.FunctionType, pickle_it: Callable[[Any], bytes]) -> bytes:
    """``pickle_it(func)``, or the bytes it gave last time if nothing it captures changed."""
    key = fingerprint(func)
    if key is not None:
        cached = _cache.get(func)
        if cached is not None and cached[0] == key:
            return cached[1]
    data = pickle_it(func)
    if key is not None:
        _cache[func] = (key, data)
    return data


def fingerprint(func: types.FunctionType) -> tuple[Any, ...] | None:
    """What dill captures from ``func``, comparably; None if it cannot be compared safely."""
    parts: list[Any] = []
    return _parts_of_function(func, parts, set(), 0)


def _parts_of_function(
    func: types.FunctionType, parts: list[Any], seen: set[int], depth: int
) -> tuple[Any, ...] | None:
    """Add ``func``'s code, globals, defaults and cells to ``parts`` (helpers of ``__main__``
    it calls too, up to :data:`_MAX_DEPTH`); None if any of it cannot be compared safely."""
    if id(func) in seen:
        return tuple(parts)  # recursion between helpers: already being fingerprinted
    if depth > _MAX_DEPTH or func.__dict__:
        return None
    seen.add(id(func))
    parts.append(id(func.__code__))
    values: list[Any] = [func.__globals__.get(name, _MISSING) for name in _names(func.__code__)]
    values.extend(func.__defaults__ or ())
    values.extend((func.__kwdefaults__ or {}).items())
    for cell in func.__closure__ or ():
        try:
            values.append(cell.cell_contents)
        except ValueError:  # an empty cell
            values.append(_MISSING)
    for value in values:
        if not _add_value(value, parts, seen, depth):
            return None
    return tuple(parts)


def _add_value(value: Any, parts: list[Any], seen: set[int], depth: int) -> bool:
    """Add what identifies ``value``'s pickled form to ``parts``; False if nothing safely can."""
    if value is _MISSING or isinstance(value, _BY_IDENTITY):
        parts.append(id(value))
        return True
    if isinstance(value, type):
        if value.__module__ == "__main__":
            return False  # pickled by value, and its attributes may change in place
        parts.append(id(value))
        return True
    if isinstance(value, types.FunctionType):
        parts.append(id(value))
        if value.__module__ != "__main__":
            return True  # importable: pickled by reference
        return _parts_of_function(value, parts, seen, depth + 1) is not None
    if isinstance(value, tuple):
        parts.append(("tuple", len(value)))
        return all(_add_value(item, parts, seen, depth + 1) for item in value)
    try:
        content = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return False
    if b"__main__" in content:
        return False
    parts.append(content)
    return True


@lru_cache(maxsize=4096)
def _names(code: types.CodeType) -> tuple[str, ...]:
    """Every name ``code`` and the code nested in it (lambdas, comprehensions) look up."""
    names = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names.extend(_names(const))
    return tuple(dict.fromkeys(names))
