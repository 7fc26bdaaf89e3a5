"""Database URLs and engines: SQLite (WAL, one writer at a time) and PostgreSQL.

Every wait is bounded: SQLite waits at most :data:`SQLITE_BUSY_TIMEOUT` seconds
for a lock and PostgreSQL at most :data:`PG_CONNECT_TIMEOUT` seconds to connect
(with TCP keepalives to notice a server that vanished), so the writer thread
always gets control back to buffer and retry.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError

from plait.errors import ConfigError
from plait_monitoring.urls import check_url, hub_url

SQLITE_BUSY_TIMEOUT = 1.0
PG_CONNECT_TIMEOUT = 3


def parse_url(url: str) -> URL:
    """``url`` checked (:func:`plait_monitoring.urls.check_url`) and parsed.

    :raises ConfigError: not a URL, or a database other than SQLite or PostgreSQL.
    """
    checked = check_url(url)
    try:
        return make_url(checked)
    except ArgumentError as exc:
        raise ConfigError(
            "logging_endpoint", url, "a database URL", "e.g. sqlite:///monitoring.db"
        ) from exc


def resolve_url(endpoint: str | None, runs_root: str) -> URL:
    """The database a hub writes to, parsed (:func:`plait_monitoring.urls.hub_url`)."""
    return make_url(hub_url(endpoint, runs_root))


def shown(url: URL) -> str:
    """``url`` for messages and logs: the password hidden."""
    return url.render_as_string(hide_password=True)


def make_engine(url: URL, *, writer: bool) -> Engine:
    """An engine for ``url``.

    :param writer: SQLite transactions start with ``BEGIN IMMEDIATE``: the writer
        takes the write lock up front and waits (bounded) for it, instead of
        failing half-way through a batch when another process writes.
    """
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, writer)
    connect_args: dict[str, Any] = {
        "connect_timeout": PG_CONNECT_TIMEOUT,
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
        "application_name": "plait-monitoring",
    }
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _sqlite_engine(url: URL, writer: bool) -> Engine:
    if url.database and url.database != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(url.database)), exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        # pysqlite's own transaction handling is off, so ``begin`` below decides how
        # transactions start; WAL lets readers (the UI, `summary`) run beside the
        # writer and several workflows write one file.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine
