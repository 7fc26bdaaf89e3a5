"""``plait monitoring summary``: one run of a monitoring database, as text.

What a user asks first after a run: how many tasks of each app ended in each
state, which tries took longest, and why tasks failed (a ``dep_fail`` task's
error names the failed tasks it depended on and their exceptions).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Float, case, cast, func, select
from sqlalchemy.engine import URL, Connection

from plait_monitoring.db import schema
from plait_monitoring.db.engine import make_engine, shown
from plait_monitoring.db.migrate import check_schema
from plait_monitoring.errors import MonitoringError

#: columns of the state table, in the order a task goes through them
STATE_ORDER = (
    "pending",
    "launched",
    "running",
    "joining",
    "fail_retryable",
    "exec_done",
    "memo_done",
    "failed",
    "dep_fail",
    "cancelled",
)
FAILURE_STATES = ("failed", "dep_fail")


@dataclass(frozen=True)
class SlowTry:
    """One of the longest tries: launch to return, in seconds."""

    task_id: int
    try_id: int
    app: str
    seconds: float
    state: str | None


@dataclass(frozen=True)
class Failure:
    """A task that ended ``failed`` or ``dep_fail``, with the error it ended with."""

    task_id: int
    app: str
    state: str
    error: str | None


@dataclass(frozen=True)
class Summary:
    """What ``summary`` prints, as data (tests and other front ends read it).

    :param workflow: the run's ``workflow`` row, by column name.
    :param counts: app -> state -> number of tasks.
    """

    workflow: dict[str, Any]
    counts: dict[str, dict[str, int]]
    slowest: list[SlowTry]
    failures: list[Failure]
    failure_count: int


def load_summary(url: URL, run_id: str | None = None, limit: int = 10) -> Summary:
    """Read the summary of run ``run_id`` (a prefix is enough), or of the latest run.

    :raises MonitoringError: no such database, run or records.
    :raises SchemaError: the database has another schema.
    """
    if url.get_backend_name() == "sqlite":
        _require_file(url)
    engine = make_engine(url, writer=False)
    try:
        with engine.connect() as connection:
            check_schema(connection, url)
            workflow = _workflow(connection, url, run_id)
            run = workflow["run_id"]
            return Summary(
                workflow,
                state_counts(connection, run),
                _slowest(connection, run, limit),
                *_failures(connection, run, limit),
            )
    finally:
        engine.dispose()


def _require_file(url: URL) -> None:
    if not url.database or not os.path.exists(url.database):
        raise MonitoringError(
            f"there is no monitoring database at {url.database}; give its URL with --db "
            "(a run writes <Config.run_dir>/monitoring.db by default)"
        )


def _workflow(connection: Connection, url: URL, run_id: str | None) -> dict[str, Any]:
    w = schema.workflow
    query = select(w).order_by(w.c.time_began.desc()).limit(2)
    if run_id is not None:
        query = query.where(w.c.run_id.startswith(run_id, autoescape=True))
    rows = connection.execute(query).all()
    if not rows:
        which = f"run {run_id}" if run_id else "any run"
        raise MonitoringError(f"the database {shown(url)} has no records of {which}")
    if run_id is not None and len(rows) > 1:
        raise MonitoringError(f"more than one run starts with {run_id!r}; give more of its id")
    return dict(rows[0]._mapping)


def state_counts(connection: Connection, run: str) -> dict[str, dict[str, int]]:
    """app -> state -> number of tasks of run ``run`` (also the web UI's totals)."""
    t = schema.task
    query = (
        select(t.c.task_func_name, t.c.task_status_name, func.count())
        .where(t.c.run_id == run)
        .group_by(t.c.task_func_name, t.c.task_status_name)
    )
    counts: dict[str, dict[str, int]] = {}
    for app, state, n in connection.execute(query):
        counts.setdefault(app, {})[state or "unknown"] = n
    return counts


def seconds_between(connection: Connection, start: Any, end: Any) -> ColumnElement[float]:
    """``end - start`` in seconds, in this database's dialect."""
    if connection.dialect.name == "postgresql":
        return cast(func.extract("epoch", end - start), Float)
    return cast((func.julianday(end) - func.julianday(start)) * 86400.0, Float)


def _slowest(connection: Connection, run: str, limit: int) -> list[SlowTry]:
    r, t = schema.try_, schema.task
    seconds = seconds_between(connection, r.c.task_try_time_launched, r.c.task_try_time_returned)
    query = (
        select(
            r.c.task_id,
            r.c.try_id,
            t.c.task_func_name,
            seconds.label("seconds"),
            t.c.task_status_name,
        )
        .join(t, (t.c.run_id == r.c.run_id) & (t.c.task_id == r.c.task_id))
        .where(r.c.run_id == run, r.c.task_try_time_returned.is_not(None))
        .order_by(seconds.desc(), r.c.task_id)
        .limit(limit)
    )
    return [SlowTry(*row) for row in connection.execute(query)]


def _failures(connection: Connection, run: str, limit: int) -> tuple[list[Failure], int]:
    t = schema.task
    failed = (t.c.run_id == run) & t.c.task_status_name.in_(FAILURE_STATES)
    total = connection.execute(select(func.count()).where(failed)).scalar_one()
    # root causes first: a failed task explains the dep_fail tasks that follow it
    query = (
        select(t.c.task_id, t.c.task_func_name, t.c.task_status_name, t.c.task_error)
        .where(failed)
        .order_by(case((t.c.task_status_name == "failed", 0), else_=1), t.c.task_id)
        .limit(limit)
    )
    return [Failure(*row) for row in connection.execute(query)], int(total)


# -- text ---------------------------------------------------------------


def render(summary: Summary) -> str:
    """``summary`` as the text ``plait monitoring summary`` prints."""
    w = summary.workflow
    lines = [f"workflow {w['workflow_name']} {w['workflow_version']}  (run {w['run_id']})"]
    began = _time(w["time_began"])
    where = f"on {w['host']} by {w['user']}, in {w['rundir']}"
    if w["time_completed"] is None:
        lines.append(f"  began {began} {where}; still running, or ended without closing its hub")
    else:
        took = (w["time_completed"] - w["time_began"]).total_seconds()
        lines.append(f"  began {began} {where}; ended after {took:.1f} s")
    lines += ["", "tasks by app and state"]
    lines += _table(*_count_table(summary.counts))
    lines += ["", "slowest tries"]
    if summary.slowest:
        lines += _table(
            ("task", "try", "app", "seconds", "state"),
            [(s.task_id, s.try_id, s.app, f"{s.seconds:.3f}", s.state) for s in summary.slowest],
        )
    else:
        lines.append("  (no try has returned)")
    shown_failures = len(summary.failures)
    lines += ["", f"failures ({shown_failures} of {summary.failure_count} shown)"]
    for f in summary.failures:
        error = (f.error or "no error recorded").splitlines()[0]
        lines.append(f"  task {f.task_id} {f.app} {f.state}: {error}")
    if not summary.failures:
        lines.append("  (none)")
    return "\n".join(lines)


def _count_table(
    counts: dict[str, dict[str, int]],
) -> tuple[Sequence[str], list[Sequence[Any]]]:
    present = {state for by_state in counts.values() for state in by_state}
    states = [s for s in STATE_ORDER if s in present] + sorted(present - set(STATE_ORDER))
    rows: list[Sequence[Any]] = [
        (app, *(counts[app].get(s, 0) for s in states), sum(counts[app].values()))
        for app in sorted(counts)
    ]
    totals = [sum(by_state.get(s, 0) for by_state in counts.values()) for s in states]
    rows.append(("all", *totals, sum(totals)))
    return ("app", *states, "total"), rows


def _table(headers: Sequence[str], rows: list[Sequence[Any]]) -> list[str]:
    cells = [list(map(str, headers))] + [list(map(str, row)) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]


def _time(value: datetime.datetime) -> str:
    return str(value.replace(microsecond=0))
