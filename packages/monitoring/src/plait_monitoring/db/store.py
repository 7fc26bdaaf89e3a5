"""Writing batches of row operations (:mod:`plait_monitoring.rows`) in one transaction each.

A batch is first folded in memory (all operations on one task row become one
row), then written with one multi-row statement per table: upserts that keep
stored values where the new row has None (``workflow``, ``task``, ``try``),
inserts that skip rows already present (``status``, ``block``, ``resource``),
plain inserts (``node``), and an update
for ``workflow_end``. Every statement is idempotent, so a batch whose commit
was interrupted can simply be written again.

The statements are built with SQLAlchemy and compiled once per store; rows go
to the driver's ``executemany`` as plain tuples or dicts, because per-row
parameter processing would make SQLAlchemy most of the writer's cost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, bindparam, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Dialect
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.sql.dml import Insert, Update

from plait_monitoring.db import schema
from plait_monitoring.db.engine import make_engine
from plait_monitoring.db.times import SqliteTimeText, as_datetime
from plait_monitoring.rows import TUPLE_COLUMNS, Op

_TIME_COLUMNS = frozenset(
    {
        "last_heartbeat",
        "time_began",
        "time_completed",
        "task_time_invoked",
        "task_time_returned",
        "task_try_time_launched",
        "task_try_time_running",
        "task_try_time_returned",
        "timestamp",
    }
)
#: kind -> (table, key columns) for the kinds merged by key
_MERGED: dict[str, tuple[Table, tuple[str, ...]]] = {
    "workflow": (schema.workflow, ("run_id",)),
    "task": (schema.task, ("run_id", "task_id")),
    "try": (schema.try_, ("run_id", "task_id", "try_id")),
}
#: kind -> (table, primary key columns) for the kinds added once
_ADDED: dict[str, tuple[Table, tuple[str, ...]]] = {
    "status": (schema.status, ("task_id", "run_id", "task_status_name", "timestamp")),
    "block": (schema.block, ("run_id", "block_id", "executor_label", "timestamp")),
    "resource": (schema.resource, ("try_id", "task_id", "run_id", "timestamp")),
}
#: kind -> table for the kinds simply inserted: ``node`` has no natural key (Parsl's
#: table), so a batch written twice after a commit whose answer was lost repeats them
_APPENDED: dict[str, Table] = {"node": schema.node}
_WORKFLOW_END_COLUMNS = ("time_completed", "tasks_completed_count", "tasks_failed_count")


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` means "the database cannot be reached or is locked right now"
    (so the batch waits and is written later), rather than "this batch is bad"."""
    if isinstance(error, OperationalError | InterfaceError | DisconnectionError | PoolTimeoutError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


#: kind -> the columns of its rows as the store handles them: a dict row is turned into
#: a tuple in this order, and a tuple row (:data:`TUPLE_COLUMNS`) is already in it
_TABLES: dict[str, Table] = {
    **{kind: table for kind, (table, _) in (_MERGED | _ADDED).items()},
    **_APPENDED,
}
_COLUMNS: dict[str, tuple[str, ...]] = {
    **{kind: tuple(c.name for c in table.columns) for kind, table in _TABLES.items()},
    **TUPLE_COLUMNS,
    "workflow_end": ("run_id", *_WORKFLOW_END_COLUMNS),
}
#: kind -> the positions of its key columns in its rows
_KEYS = {
    kind: itemgetter(*(_COLUMNS[kind].index(c) for c in key))
    for kind, (_, key) in (_MERGED | _ADDED).items()
}


def _as_tuple(kind: str, row: dict[str, Any] | Sequence[Any]) -> tuple[Any, ...]:
    """``row`` as a tuple in the order of ``_COLUMNS[kind]``."""
    if type(row) is tuple:
        return row
    if isinstance(row, dict):
        return tuple(row.get(column) for column in _COLUMNS[kind])
    return tuple(row)  # a list: a tuple row read back from a spill file


def _coalesce(stored: tuple[Any, ...], new: tuple[Any, ...]) -> tuple[Any, ...]:
    """``stored`` with every value that ``new`` has (is not None) taken from ``new``."""
    return tuple(old if value is None else value for old, value in zip(stored, new, strict=True))


@dataclass(frozen=True)
class _Compiled:
    """A statement compiled for one database, and how to turn rows into its parameters."""

    sql: str
    names: tuple[str, ...]  # its parameters, in the order a positional paramstyle needs
    # the row position that supplies each parameter (-1: none), or None when the rows
    # hold the parameters in order already
    sources: tuple[int, ...] | None
    times: tuple[int, ...]  # the positions of parameters that are times
    positional: bool

    def params(self, rows: Iterable[tuple[Any, ...]], time: Callable[[float], Any]) -> list[Any]:
        """The driver's parameters for ``rows``; ``time`` converts the time columns."""
        sources, times = self.sources, self.times
        params: list[Any] = []
        for row in rows:
            if sources is None:
                values = list(row)
            else:
                values = [row[i] if i >= 0 else None for i in sources]
            for i in times:
                value = values[i]
                if value is not None:
                    values[i] = time(value)
            params.append(
                tuple(values) if self.positional else dict(zip(self.names, values, strict=True))
            )
        return params


class Store:
    """The database one hub (or one ``plait monitoring`` command) writes to.

    :param url: the database; its schema is created or checked on first use.
    """

    def __init__(self, url: URL) -> None:
        self.url = url
        self.engine = make_engine(url, writer=True)
        self._schema_ready = False
        postgres = url.get_backend_name() == "postgresql"
        self._compiled = {
            kind: _compile(kind, statement, self.engine.dialect)
            for kind, statement in _statements(postgresql.insert if postgres else sqlite.insert)
        }
        # SQLite keeps DateTime as text in SQLAlchemy's format; psycopg takes datetimes
        self._time: Callable[[float], Any] = as_datetime if postgres else SqliteTimeText()

    def ensure_schema(self) -> None:
        """Create or check the schema, once (:func:`plait_monitoring.db.migrate.ensure_schema`).

        :raises SchemaError: the database has another schema.
        """
        if not self._schema_ready:
            from plait_monitoring.db.migrate import ensure_schema

            ensure_schema(self.engine, self.url)
            self._schema_ready = True

    def write(self, ops: Sequence[Op]) -> None:
        """Write ``ops`` in one transaction.

        :raises sqlalchemy.exc.SQLAlchemyError: nothing was written; see
            :func:`is_transient`.
        :raises SchemaError: the database has another schema.
        """
        self.ensure_schema()
        with self.engine.begin() as connection:
            self._execute(connection, ops)

    def _execute(self, connection: Connection, ops: Sequence[Op]) -> None:
        merged: dict[str, dict[tuple[Any, ...], tuple[Any, ...]]] = {k: {} for k in _MERGED}
        added: dict[str, dict[tuple[Any, ...], tuple[Any, ...]]] = {k: {} for k in _ADDED}
        ends: dict[str, tuple[Any, ...]] = {}
        appended: dict[str, list[tuple[Any, ...]]] = {k: [] for k in _APPENDED}
        for kind, given in ops:
            row = _as_tuple(kind, given)
            if kind in _MERGED:
                rows = merged[kind]
                key = _KEYS[kind](row)
                stored = rows.get(key)
                rows[key] = row if stored is None else _coalesce(stored, row)
            elif kind in _ADDED:
                added[kind].setdefault(_KEYS[kind](row), row)
            elif kind == "workflow_end":
                ends[row[0]] = row
            elif kind in _APPENDED:
                appended[kind].append(row)
            else:
                raise ValueError(f"unknown monitoring operation {kind!r}")
        # workflow rows first: status rows refer to them
        for kind in _MERGED:
            self._run(connection, kind, merged[kind].values())
        for kind in _ADDED:
            self._run(connection, kind, added[kind].values())
        for kind in _APPENDED:
            self._run(connection, kind, appended[kind])
        self._run(connection, "workflow_end", ends.values())

    def _run(self, connection: Connection, kind: str, rows: Iterable[tuple[Any, ...]]) -> None:
        compiled = self._compiled[kind]
        params = compiled.params(rows, self._time)
        if params:
            connection.exec_driver_sql(compiled.sql, params)

    def dispose(self) -> None:
        """Close the engine's connections."""
        self.engine.dispose()


#: the update names its parameters b_<column>: SQLAlchemy reserves the column names
_END_PARAMS = {f"b_{c}": c for c in ("run_id", *_WORKFLOW_END_COLUMNS)}


def _statements(insert: Callable[[Table], Any]) -> list[tuple[str, Insert | Update]]:
    """(kind, the statement that writes its rows), for every kind of operation."""
    statements: list[tuple[str, Insert | Update]] = []
    for kind, (table, key) in _MERGED.items():
        stmt = insert(table)
        update = {
            c.name: func.coalesce(stmt.excluded[c.name], c)
            for c in table.columns
            if c.name not in key
        }
        statements.append((kind, stmt.on_conflict_do_update(index_elements=list(key), set_=update)))
    for kind, (table, key) in _ADDED.items():
        statements.append((kind, insert(table).on_conflict_do_nothing(index_elements=list(key))))
    for kind, table in _APPENDED.items():
        statements.append((kind, insert(table)))
    workflow = schema.workflow
    end = (
        workflow.update()
        .where(workflow.c.run_id == bindparam("b_run_id"))
        .values({c: bindparam(f"b_{c}") for c in _WORKFLOW_END_COLUMNS})
    )
    statements.append(("workflow_end", end))
    return statements


def _compile(kind: str, statement: Insert | Update, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    positions = compiled.positiontup
    names = tuple(positions) if positions else tuple(compiled.params)
    columns = [_END_PARAMS.get(name, name) for name in names]
    row_columns = _COLUMNS[kind]
    sources = tuple(row_columns.index(c) if c in row_columns else -1 for c in columns)
    in_order = sources == tuple(range(len(row_columns)))
    times = tuple(i for i, column in enumerate(columns) if column in _TIME_COLUMNS)
    return _Compiled(
        str(compiled), names, None if in_order else sources, times, positions is not None
    )
