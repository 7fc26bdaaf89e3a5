"""Small helpers shared by configuration objects."""

from __future__ import annotations

import inspect
from typing import Any


class RepresentationMixin:
    """A ``repr`` built from ``__init__``'s parameters, each read from a same-named attribute.

    Configuration objects (Config, executors, providers, launchers) use it so a
    printed config can be pasted back as Python. A parameter with no same-named
    attribute is shown as ``...``.
    """

    def __repr__(self) -> str:
        params = inspect.signature(type(self).__init__).parameters
        parts = []
        for name, param in params.items():
            if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            value = getattr(self, name, ...)
            if value is not param.default:
                parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


def hms_to_seconds(value: str | float | int) -> float:
    """A period given as seconds or as ``"HH:MM:SS"``, in seconds."""
    if isinstance(value, int | float):
        return float(value)
    parts = [float(p) for p in value.split(":")]
    total = 0.0
    for part in parts:
        total = total * 60 + part
    return total


def __getattr__(name: str) -> Any:
    # Parsl keeps the checkpoint helpers in parsl.utils; they live with memoization here.
    if name in ("get_all_checkpoints", "get_last_checkpoint"):
        from plait.dataflow import memoization

        return getattr(memoization, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
