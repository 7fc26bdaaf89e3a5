"""The UI's reads: every aggregate is computed by the database, every list is bounded.

Each function takes an open connection and returns plain dataclasses, so a page
is rendered from one connection and the pages never build SQL. Lists take
``offset``/``limit`` (tables are paginated) and charts take a cap, so a page of
a 100,000-task workflow reads a few thousand rows at most; the one exception is
:func:`failed_tasks`, which reads every failed task (five narrow columns) because
root causes need the whole failure graph.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from sqlalchemy import DateTime, Integer, case, cast, func, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Select

from plait_monitoring.db import schema
from plait_monitoring.summary import seconds_between

#: states in the order a task goes through them (the order of table columns and legends)
STATE_ORDER = (
    "pending",
    "launched",
    "running",
    "joining",
    "running_ended",
    "fail_retryable",
    "exec_done",
    "memo_done",
    "failed",
    "dep_fail",
    "cancelled",
)
#: states after which a task changes no more
FINAL_STATES = ("exec_done", "memo_done", "failed", "dep_fail", "cancelled")
#: final states that mean the task did not produce its result
FAILURE_STATES = ("failed", "dep_fail", "cancelled")


@dataclass(frozen=True)
class Workflow:
    """One ``workflow`` row; ``counts`` maps state -> tasks (filled where a page needs it)."""

    run_id: str
    name: str | None
    version: str | None
    began: datetime.datetime
    completed: datetime.datetime | None
    host: str
    user: str
    rundir: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def tasks(self) -> int:
        return sum(self.counts.values())


def _workflow(row: Any) -> Workflow:
    return Workflow(
        row.run_id,
        row.workflow_name,
        row.workflow_version,
        row.time_began,
        row.time_completed,
        row.host,
        row.user,
        row.rundir,
    )


def workflows(connection: Connection, offset: int, limit: int) -> tuple[list[Workflow], int]:
    """A page of runs, newest first, each with its task counts by state; and the number of runs."""
    w, t = schema.workflow, schema.task
    total = connection.execute(select(func.count()).select_from(w)).scalar_one()
    rows = connection.execute(
        select(w).order_by(w.c.time_began.desc(), w.c.run_id).offset(offset).limit(limit)
    ).all()
    found = [_workflow(row) for row in rows]
    by_run = {wf.run_id: wf for wf in found}
    if by_run:
        # grouped by app too: that is the order of the (run, app, state) index, so the
        # database counts in one pass over it, without sorting every task of every run
        query = (
            select(t.c.run_id, t.c.task_status_name, func.count())
            .where(t.c.run_id.in_(by_run))
            .group_by(t.c.run_id, t.c.task_func_name, t.c.task_status_name)
        )
        for run, state, n in connection.execute(query):
            counts = by_run[run].counts
            counts[state or "unknown"] = counts.get(state or "unknown", 0) + n
    return found, int(total)


def workflow(connection: Connection, run_id: str) -> Workflow | None:
    """Run ``run_id``, or None."""
    w = schema.workflow
    row = connection.execute(select(w).where(w.c.run_id == run_id)).first()
    return None if row is None else _workflow(row)


def _app_names(run_id: str) -> Select[Any]:
    """The distinct app names of run ``run_id``, read by skipping from one to the next in
    the (run, app, state) index: one index lookup per app, not a pass over every task."""
    t, later = schema.task, schema.task.alias("later")
    names = (
        select(func.min(t.c.task_func_name).label("name"))
        .where(t.c.run_id == run_id)
        .cte("app_names", recursive=True)
    )
    following = (
        select(func.min(later.c.task_func_name))
        .where(later.c.run_id == run_id, later.c.task_func_name > names.c.name)
        .scalar_subquery()
    )
    names = names.union_all(select(following).where(names.c.name.is_not(None)))
    return select(names.c.name).where(names.c.name.is_not(None))


def apps(connection: Connection, run_id: str) -> list[str]:
    """The apps of run ``run_id``, by name (charts colour apps alike from this list)."""
    return sorted(connection.execute(_app_names(run_id)).scalars())


# -- tries (the Gantt chart) ---------------------------------------------------


@dataclass(frozen=True)
class Try:
    """One try of a task: launched to returned (None while it runs)."""

    task_id: int
    try_id: int
    app: str
    task_state: str | None
    executor: str
    launched: datetime.datetime | None
    running: datetime.datetime | None
    returned: datetime.datetime | None
    block_id: str | None
    hostname: str | None
    fail_history: str | None


@dataclass(frozen=True)
class TrySample:
    """Tries to draw: every ``step``-th task's tries, of ``total`` tries in the run."""

    tries: list[Try]
    total: int
    step: int


def tries_sample(connection: Connection, run_id: str, cap: int) -> TrySample:
    """The tries of run ``run_id``, thinned to about ``cap`` by keeping every n-th task."""
    r = schema.try_
    total = int(
        connection.execute(
            select(func.count()).select_from(r).where(r.c.run_id == run_id)
        ).scalar_one()
    )
    step = max(1, -(-total // cap))
    query = _tries(run_id).order_by(r.c.task_id, r.c.try_id)
    if step > 1:
        query = query.where(r.c.task_id % step == 0)
    return TrySample([Try(*row) for row in connection.execute(query)], total, step)


def task_tries(connection: Connection, run_id: str, task_id: int) -> list[Try]:
    """Every try of one task."""
    r = schema.try_
    query = _tries(run_id).where(r.c.task_id == task_id).order_by(r.c.try_id)
    return [Try(*row) for row in connection.execute(query)]


def _tries(run_id: str) -> Select[Any]:
    """The columns of :class:`Try` for the tries of run ``run_id``."""
    r, t = schema.try_, schema.task
    return (
        select(
            r.c.task_id,
            r.c.try_id,
            t.c.task_func_name,
            t.c.task_status_name,
            r.c.task_executor,
            r.c.task_try_time_launched,
            r.c.task_try_time_running,
            r.c.task_try_time_returned,
            r.c.block_id,
            r.c.hostname,
            r.c.task_fail_history,
        )
        .join(t, (t.c.run_id == r.c.run_id) & (t.c.task_id == r.c.task_id))
        .where(r.c.run_id == run_id)
    )


# -- tasks by state over time --------------------------------------------------


@dataclass(frozen=True)
class StateTimeline:
    """Tasks in each state at the end of each of a run's equal time bins.

    :param edges: the bins' boundaries, one more than the bins (none without status rows).
    :param in_state: state -> tasks in that state at the end of each bin.
    """

    edges: list[datetime.datetime]
    in_state: dict[str, list[int]]


def state_timeline(connection: Connection, run_id: str, bins: int) -> StateTimeline:
    """How many tasks of run ``run_id`` were in each state over time.

    The database counts, per time bin, the status changes from each state to
    each state (the previous state comes from ``LAG`` over the task's status
    rows); a running sum of "entered minus left" gives the tasks in each state
    at the end of each bin. The database makes one grouped pass over the run's
    status rows and returns at most bins x transitions rows, whatever the
    number of tasks.
    """
    s = schema.status
    first, last = _earliest_latest(connection, s.c.timestamp, s.c.run_id == run_id)
    if first is None:
        return StateTimeline([], {})
    span = max((last - first).total_seconds(), 1e-3)
    width = span / bins
    offset = seconds_between(connection, literal(first, DateTime), s.c.timestamp)
    bucket = (
        cast(func.floor(offset / width), Integer)
        if connection.dialect.name == "postgresql"
        else cast(offset / width, Integer)
    )
    rank = case(
        {state: i for i, state in enumerate(STATE_ORDER)},
        value=s.c.task_status_name,
        else_=len(STATE_ORDER),
    )
    previous = func.lag(s.c.task_status_name).over(
        partition_by=s.c.task_id, order_by=(s.c.timestamp, s.c.try_id, rank)
    )
    changes = (
        select(
            s.c.task_status_name.label("state"),
            previous.label("previous"),
            bucket.label("bin"),
        )
        .where(s.c.run_id == run_id)
        .subquery()
    )
    query = select(changes.c.bin, changes.c.state, changes.c.previous, func.count()).group_by(
        changes.c.bin, changes.c.state, changes.c.previous
    )
    delta: dict[str, list[int]] = {}
    for b, state, previous_state, n in connection.execute(query):
        index = min(max(int(b), 0), bins - 1)
        delta.setdefault(state, [0] * bins)[index] += n
        if previous_state is not None:
            delta.setdefault(previous_state, [0] * bins)[index] -= n
    in_state = {state: list(accumulate(delta[state])) for state in ordered_states(delta)}
    edges = [first + datetime.timedelta(seconds=width * i) for i in range(bins + 1)]
    return StateTimeline(edges, in_state)


def _earliest_latest(
    connection: Connection, column: Any, *where: ColumnElement[bool]
) -> tuple[Any, Any]:
    """``min(column)`` and ``max(column)`` of the rows ``where`` selects, as two queries:
    each alone is one index lookup, while both in one query read every row."""
    return (
        connection.execute(select(func.min(column)).where(*where)).scalar(),
        connection.execute(select(func.max(column)).where(*where)).scalar(),
    )


def ordered_states(states: Collection[str]) -> list[str]:
    """``states`` in the order a task goes through them (:data:`STATE_ORDER`), unknown ones last."""
    known = [s for s in STATE_ORDER if s in states]
    return known + sorted(set(states) - set(STATE_ORDER))


# -- tasks -----------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One ``task`` row, with ``task_depends`` parsed."""

    task_id: int
    app: str
    state: str | None
    depends: tuple[int, ...]
    invoked: datetime.datetime | None
    returned: datetime.datetime | None
    fail_count: int
    error: str | None
    stdin: str | None
    stdout: str | None
    stderr: str | None
    inputs: str | None
    outputs: str | None
    hashsum: str | None
    memoize: str | None


def parse_depends(value: str | None) -> tuple[int, ...]:
    """Parsl's ``task_depends`` (comma-separated task ids) as ids."""
    if not value:
        return ()
    return tuple(int(part) for part in value.split(",") if part.strip().lstrip("-").isdigit())


def _task_columns() -> tuple[Any, ...]:
    t = schema.task
    return (
        t.c.task_id,
        t.c.task_func_name,
        t.c.task_status_name,
        t.c.task_depends,
        t.c.task_time_invoked,
        t.c.task_time_returned,
        t.c.task_fail_count,
        t.c.task_error,
        t.c.task_stdin,
        t.c.task_stdout,
        t.c.task_stderr,
        t.c.task_inputs,
        t.c.task_outputs,
        t.c.task_hashsum,
        t.c.task_memoize,
    )


def _task(row: Any) -> Task:
    values = list(row)
    values[3] = parse_depends(values[3])
    return Task(*values)


def task(connection: Connection, run_id: str, task_id: int) -> Task | None:
    """Task ``task_id`` of run ``run_id``, or None."""
    t = schema.task
    row = connection.execute(
        select(*_task_columns()).where(t.c.run_id == run_id, t.c.task_id == task_id)
    ).first()
    return None if row is None else _task(row)


def tasks_by_id(connection: Connection, run_id: str, ids: Sequence[int]) -> dict[int, Task]:
    """The tasks of run ``run_id`` among ``ids`` (read in chunks the drivers accept)."""
    t = schema.task
    found: dict[int, Task] = {}
    for i in range(0, len(ids), 500):
        query = select(*_task_columns()).where(
            t.c.run_id == run_id, t.c.task_id.in_(ids[i : i + 500])
        )
        for row in connection.execute(query):
            found[row.task_id] = _task(row)
    return found


def tasks_page(
    connection: Connection,
    run_id: str,
    app: str | None,
    state: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Task], int]:
    """A page of run ``run_id``'s tasks (of one app and/or state if given), by id; and how many."""
    t = schema.task
    where = [t.c.run_id == run_id]
    if app:
        where.append(t.c.task_func_name == app)
    if state:
        where.append(t.c.task_status_name == state)
    total = connection.execute(select(func.count()).select_from(t).where(*where)).scalar_one()
    query = select(*_task_columns()).where(*where).order_by(t.c.task_id).offset(offset).limit(limit)
    return [_task(row) for row in connection.execute(query)], int(total)


def dependents(connection: Connection, run_id: str, task_id: int, limit: int) -> list[int]:
    """Ids of tasks of run ``run_id`` that depend on ``task_id`` (at most ``limit``).

    ``task_depends`` is text, so this scans the run's later tasks (a dependent is always
    submitted after its dependencies).
    """
    t = schema.task
    listed = literal(",") + t.c.task_depends + literal(",")
    query = (
        select(t.c.task_id)
        .where(
            t.c.run_id == run_id,
            t.c.task_id > task_id,
            listed.contains(f",{task_id},", autoescape=True),
        )
        .order_by(t.c.task_id)
        .limit(limit)
    )
    return list(connection.execute(query).scalars())


@dataclass(frozen=True)
class DagTask:
    """A task as the DAG draws it."""

    task_id: int
    app: str
    state: str | None
    depends: tuple[int, ...]


def dag_tasks(connection: Connection, run_id: str, cap: int) -> tuple[list[DagTask], int]:
    """The first ``cap`` tasks of run ``run_id`` by id, and the number of tasks in the run."""
    t = schema.task
    total = connection.execute(
        select(func.count()).select_from(t).where(t.c.run_id == run_id)
    ).scalar_one()
    query = (
        select(t.c.task_id, t.c.task_func_name, t.c.task_status_name, t.c.task_depends)
        .where(t.c.run_id == run_id)
        .order_by(t.c.task_id)
        .limit(cap)
    )
    found = [
        DagTask(task_id, app, state, parse_depends(depends))
        for task_id, app, state, depends in connection.execute(query)
    ]
    return found, int(total)


@dataclass(frozen=True)
class FailedTask:
    """A task that ended in a failure state: what the failures section shows of it."""

    task_id: int
    app: str
    state: str | None
    depends: tuple[int, ...]
    error: str | None


def failed_tasks(connection: Connection, run_id: str) -> dict[int, FailedTask]:
    """Every task of run ``run_id`` that ended in a failure state, by id (only the
    columns needed: a run may have tens of thousands)."""
    t = schema.task
    # naming the apps lets the database look the failures up in the (run, app, state)
    # index instead of reading every task of the run
    query = select(
        t.c.task_id, t.c.task_func_name, t.c.task_status_name, t.c.task_depends, t.c.task_error
    ).where(
        t.c.run_id == run_id,
        t.c.task_func_name.in_(_app_names(run_id).scalar_subquery()),
        t.c.task_status_name.in_(FAILURE_STATES),
    )
    return {
        task_id: FailedTask(task_id, app, state, parse_depends(depends), error)
        for task_id, app, state, depends, error in connection.execute(query)
    }


@dataclass(frozen=True)
class StatusChange:
    """One ``status`` row."""

    state: str
    timestamp: datetime.datetime
    try_id: int


def status_history(connection: Connection, run_id: str, task_id: int) -> list[StatusChange]:
    """The states task ``task_id`` went through, in order.

    Sorted here, not by the database: with ``ORDER BY timestamp`` SQLite prefers the
    run's time index and scans the whole run; a task has only a few rows.
    """
    s = schema.status
    query = select(s.c.task_status_name, s.c.timestamp, s.c.try_id).where(
        s.c.run_id == run_id, s.c.task_id == task_id
    )
    rank = {state: i for i, state in enumerate(STATE_ORDER)}
    changes = [StatusChange(*row) for row in connection.execute(query)]
    return sorted(changes, key=lambda c: (c.timestamp, c.try_id, rank.get(c.state, len(rank))))


# -- blocks and nodes ------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One block: its latest state and when it was first and last seen."""

    executor: str
    block_id: str
    job_id: str | None
    status: str
    message: str | None
    first_seen: datetime.datetime
    last_seen: datetime.datetime
    changes: int


def blocks(connection: Connection, run_id: str, offset: int, limit: int) -> tuple[list[Block], int]:
    """A page of run ``run_id``'s blocks, each at its latest state; and how many blocks."""
    b = schema.block
    per_block = (
        select(
            b.c.executor_label,
            b.c.block_id,
            func.min(b.c.timestamp).label("first_seen"),
            func.max(b.c.timestamp).label("last_seen"),
            func.count().label("changes"),
        )
        .where(b.c.run_id == run_id)
        .group_by(b.c.executor_label, b.c.block_id)
        .subquery()
    )
    total = connection.execute(select(func.count()).select_from(per_block)).scalar_one()
    query = (
        select(
            b.c.executor_label,
            b.c.block_id,
            b.c.job_id,
            b.c.status,
            b.c.message,
            per_block.c.first_seen,
            per_block.c.last_seen,
            per_block.c.changes,
        )
        .join(
            per_block,
            (b.c.executor_label == per_block.c.executor_label)
            & (b.c.block_id == per_block.c.block_id)
            & (b.c.timestamp == per_block.c.last_seen),
        )
        .where(b.c.run_id == run_id)
        .order_by(b.c.executor_label, per_block.c.first_seen, b.c.block_id)
        .offset(offset)
        .limit(limit)
    )
    return [Block(*row) for row in connection.execute(query)], int(total)


@dataclass(frozen=True)
class Node:
    """One ``node`` row: a manager's host in a block."""

    hostname: str
    uid: str
    block_id: str
    cpu_count: int
    total_memory: int
    active: bool
    worker_count: int
    python_v: str
    timestamp: datetime.datetime
    last_heartbeat: datetime.datetime


def nodes(connection: Connection, run_id: str, offset: int, limit: int) -> tuple[list[Node], int]:
    """A page of run ``run_id``'s node rows; and how many there are."""
    n = schema.node
    total = connection.execute(
        select(func.count()).select_from(n).where(n.c.run_id == run_id)
    ).scalar_one()
    query = (
        select(
            n.c.hostname,
            n.c.uid,
            n.c.block_id,
            n.c.cpu_count,
            n.c.total_memory,
            n.c.active,
            n.c.worker_count,
            n.c.python_v,
            n.c.timestamp,
            n.c.last_heartbeat,
        )
        .where(n.c.run_id == run_id)
        .order_by(n.c.block_id, n.c.hostname, n.c.id)
        .offset(offset)
        .limit(limit)
    )
    return [Node(**row._asdict()) for row in connection.execute(query)], int(total)


# -- resources -----------------------------------------------------------------


@dataclass(frozen=True)
class ResourceSample:
    """One ``resource`` row of a try: what psutil saw of the task's process."""

    try_id: int
    timestamp: datetime.datetime
    memory_resident: float | None
    memory_virtual: float | None
    time_user: float | None
    time_system: float | None
    disk_read: float | None
    disk_write: float | None


def resource_count(connection: Connection, run_id: str, task_id: int) -> int:
    """How many resource samples task ``task_id`` has."""
    r = schema.resource
    query = select(func.count()).where(r.c.run_id == run_id, r.c.task_id == task_id)
    return int(connection.execute(query).scalar_one())


def resources(connection: Connection, run_id: str, task_id: int, cap: int) -> list[ResourceSample]:
    """Task ``task_id``'s first ``cap`` resource samples, in time order."""
    r = schema.resource
    query = (
        select(
            r.c.try_id,
            r.c.timestamp,
            r.c.psutil_process_memory_resident,
            r.c.psutil_process_memory_virtual,
            r.c.psutil_process_time_user,
            r.c.psutil_process_time_system,
            r.c.psutil_process_disk_read,
            r.c.psutil_process_disk_write,
        )
        .where(r.c.run_id == run_id, r.c.task_id == task_id)
        .order_by(r.c.timestamp, r.c.try_id)
        .limit(cap)
    )
    return [ResourceSample(*row) for row in connection.execute(query)]


# -- change detection ------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    """A value that changes whenever what a page shows changes, and whether it still can."""

    version: str
    live: bool


#: unfinished runs whose progress the workflows list watches (the most recent ones)
WATCHED_RUNS = 20


def runs_version(connection: Connection) -> Version:
    """The version of the workflows list: the runs, and the progress of recent unfinished
    ones (one indexed ``max`` each). Always live: a new run may appear at any time."""
    w, s = schema.workflow, schema.status
    runs, finished, newest = connection.execute(
        select(func.count(), func.count(w.c.time_completed), func.max(w.c.time_began))
    ).one()
    unfinished = (
        connection.execute(
            select(w.c.run_id)
            .where(w.c.time_completed.is_(None))
            .order_by(w.c.time_began.desc())
            .limit(WATCHED_RUNS)
        )
        .scalars()
        .all()
    )
    progress = [
        connection.execute(select(func.max(s.c.timestamp)).where(s.c.run_id == run)).scalar()
        for run in unfinished
    ]
    return Version(repr(tuple(map(str, (runs, finished, newest, *progress)))), True)


def status_version(connection: Connection, run_id: str) -> str:
    """A value that changes whenever run ``run_id`` gets a status row (what
    :func:`state_timeline` reads): their number and the latest timestamp."""
    s = schema.status
    return repr(tuple(map(str, _count_latest(connection, s.c.timestamp, s.c.run_id == run_id))))


def run_version(connection: Connection, run_id: str, task_id: int | None = None) -> Version:
    """The version of a run's pages (with ``task_id``, also of that task's resource samples)."""
    w, s, b, n, r = schema.workflow, schema.status, schema.block, schema.node, schema.resource
    completed = connection.execute(
        select(w.c.time_completed).where(w.c.run_id == run_id)
    ).scalar_one_or_none()
    parts: list[Any] = [
        completed,
        *_count_latest(connection, s.c.timestamp, s.c.run_id == run_id),
        *_count_latest(connection, b.c.timestamp, b.c.run_id == run_id),
        *_count_latest(connection, n.c.last_heartbeat, n.c.run_id == run_id),
    ]
    if task_id is not None:
        parts += _count_latest(
            connection, r.c.timestamp, r.c.run_id == run_id, r.c.task_id == task_id
        )
    return Version(repr(tuple(map(str, parts))), completed is None)


def _count_latest(
    connection: Connection, column: Any, *where: ColumnElement[bool]
) -> tuple[int, Any]:
    """How many rows ``where`` selects, and their ``max(column)``: two queries, as a
    ``max`` alone is one index lookup but beside ``count`` it reads every row again."""
    count = connection.execute(select(func.count()).where(*where)).scalar_one()
    return count, connection.execute(select(func.max(column)).where(*where)).scalar()
