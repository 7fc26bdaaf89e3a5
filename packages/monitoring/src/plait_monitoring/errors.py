"""Errors of plait-monitoring; each says what to do next."""

from __future__ import annotations

from plait.errors import PlaitError


class MonitoringError(PlaitError):
    """Base class of plait-monitoring's errors."""


class SchemaError(MonitoringError):
    """The database's schema is not the one this plait-monitoring writes.

    Raised when a hub starts (so the workflow does not run unrecorded) and by
    ``plait monitoring`` commands; the message says how to migrate.
    """


def first_line(error: BaseException) -> str:
    """``Type: first line of the message``: enough to tell a lock from a refused login."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"
