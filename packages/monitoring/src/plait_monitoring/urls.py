"""Database URLs as the workflow's process handles them: checked and shown without SQLAlchemy.

A hub lives in the workflow's process, where every full collection of the cyclic
GC walks every object of every imported module for as long as the workflow
runs. SQLAlchemy and Alembic would add some 50,000 of them: a no-op workflow
that holds 50,000 futures ran 10 to 30% slower with them imported, before
recording anything. So the hub checks and shows URLs with this module, and only
its recorder process (and the ``plait monitoring`` commands) import SQLAlchemy
(:func:`plait_monitoring.db.engine.parse_url` parses them there, after the same
checks).
"""

from __future__ import annotations

import importlib.util
import os
import re

from plait.errors import ConfigError

#: URL schemes (SQLAlchemy backend names) the writer supports.
BACKENDS = ("sqlite", "postgresql")
#: ``dialect[+driver]://rest``, the shape SQLAlchemy's URL parser accepts
_URL = re.compile(r"(?P<drivername>[\w+]+)://(?P<rest>.*)", re.DOTALL)
#: the password of ``scheme://user:password@host``
_PASSWORD = re.compile(r"^(?P<head>[\w+]+://[^:/@]*:)(?P<password>[^@]*)(?P<tail>@.*)$", re.DOTALL)


def check_url(url: str) -> str:
    """``url`` checked, as the recorder will use it: bare ``postgresql://`` means
    psycopg (version 3).

    :raises ConfigError: not a URL, a database other than SQLite or PostgreSQL, or
        PostgreSQL without psycopg installed.
    """
    match = _URL.fullmatch(url) if isinstance(url, str) else None
    if match is None:
        raise ConfigError("logging_endpoint", url, "a database URL", "e.g. sqlite:///monitoring.db")
    drivername = match["drivername"]
    if drivername.split("+", 1)[0] not in BACKENDS:
        raise ConfigError(
            "logging_endpoint",
            url,
            ["sqlite:///PATH", "postgresql+psycopg://USER@HOST:PORT/DB"],
            "plait-monitoring writes to SQLite or PostgreSQL",
        )
    if drivername == "postgresql":
        drivername = "postgresql+psycopg"
        url = f"{drivername}://{match['rest']}"
    if drivername == "postgresql+psycopg" and importlib.util.find_spec("psycopg") is None:
        raise ConfigError(
            "logging_endpoint",
            hide_password(url),
            "",
            "PostgreSQL needs psycopg: pip install 'plait-monitoring[postgresql]'",
        )
    return url


def hub_url(endpoint: str | None, runs_root: str) -> str:
    """The database a hub writes to: ``endpoint`` (checked), or Parsl's default,
    SQLite in ``<runs_root>/monitoring.db`` (the Config's ``run_dir``, shared by its
    runs)."""
    if endpoint is not None:
        return check_url(endpoint)
    return "sqlite:///" + os.path.abspath(os.path.join(runs_root, "monitoring.db"))


def hide_password(url: str) -> str:
    """``url`` for messages and logs: the password, if any, as ``***``."""
    match = _PASSWORD.match(url)
    if match is None:
        return url
    return f"{match['head']}***{match['tail']}"
