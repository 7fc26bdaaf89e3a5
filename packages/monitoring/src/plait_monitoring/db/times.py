"""Turning ``time.time()`` floats into what each database stores in a DateTime column.

SQLite has no time type: SQLAlchemy keeps its DateTime as text
(``2026-11-25 07:03:19.123456``, local time), and the web UI and Parsl's notebooks
read it back through the same type, so the recorder writes exactly that text.
Formatting a whole ``datetime`` for each of the nine times a task's rows carry
was a fifth of the recorder's time; :class:`SqliteTimeText` formats each second
once and adds the microseconds. PostgreSQL takes ``datetime`` objects.
"""

from __future__ import annotations

import datetime

__all__ = ["SqliteTimeText", "as_datetime"]


def as_datetime(value: float) -> datetime.datetime:
    """``value`` as a local ``datetime`` (what psycopg takes for a timestamp column)."""
    return datetime.datetime.fromtimestamp(value)


class SqliteTimeText:
    """Callable: ``value`` as the text SQLAlchemy stores for a SQLite DateTime.

    The same text as ``datetime.fromtimestamp(value).isoformat(" ", "microseconds")``
    (microseconds rounded half to even, as ``fromtimestamp`` rounds them), for the
    non-negative times a workflow records. Keeps the last second it formatted: a
    busy run's times arrive in bursts within the same second. One per thread.
    """

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, value: float) -> str:
        second = int(value)
        micro = round((value - second) * 1_000_000)
        if micro == 1_000_000:
            second += 1
            micro = 0
        if second != self._second:
            whole = datetime.datetime.fromtimestamp(second)
            self._prefix = whole.isoformat(" ") + "."
            self._second = second
        return self._prefix + "%06d" % micro  # noqa: UP031 (twice as fast as an f-string)
