"""Observer events to row operations on Parsl's tables.

An operation is ``(kind, row)``: ``row`` maps column names to plain values (str,
int, float, None; times as ``time.time()`` floats), or, for the task state rows
made in bulk, holds them in the order of :data:`TUPLE_COLUMNS`, so it can wait in
memory or in the spill file as JSON; ``kind`` says how it is written (see
:mod:`plait_monitoring.db.store`): ``workflow``, ``task`` and ``try`` rows are
merged into the row with the same key (values that are None leave the stored
value alone), ``status`` and ``block`` rows are added once, and ``workflow_end``
completes the workflow row. Every operation is idempotent, so writing one twice
(after a connection dropped during a commit) changes nothing.

Runs in the writer thread of the hub's recorder process, never in the
workflow's process.
"""

from __future__ import annotations

import datetime
import getpass
import socket
from collections.abc import Sequence
from typing import Any

from plait.events import (
    BlockStateChanged,
    NodeChanged,
    ResourceSample,
    TaskStateChanged,
    WorkflowFinished,
    WorkflowStarted,
)
from plait.resources import FIELDS

Op = tuple[str, dict[str, Any] | Sequence[Any]]

#: the states after which a task changes no more
FINAL_STATES = frozenset({"exec_done", "memo_done", "failed", "dep_fail", "cancelled"})


class RowMaker:
    """Makes the operations that record one run's events.

    :param workflow_name: the ``workflow_name`` column.
    :param workflow_version: the ``workflow_version`` column; None means the start
        time, as Parsl does.
    """

    def __init__(self, workflow_name: str, workflow_version: str | None) -> None:
        self.workflow_name = workflow_name
        self.workflow_version = workflow_version
        # the failed tries of unfinished tasks that have failed at least once: each
        # try's error, or None where the event did not say (core's fail_retryable)
        self._failures: dict[int, list[str | None]] = {}

    def rows(self, event: object) -> list[Op]:
        """The operations that record ``event``."""
        if isinstance(event, TaskStateChanged):
            return self.task_changes([event])
        if isinstance(event, ResourceSample):
            return _resource(event)
        if isinstance(event, BlockStateChanged):
            return [("block", _block(event))]
        if isinstance(event, NodeChanged):
            return [("node", _node(event))]
        if isinstance(event, WorkflowStarted):
            return [("workflow", self._workflow(event))]
        if isinstance(event, WorkflowFinished):
            return [("workflow_end", _workflow_end(event))]
        raise TypeError(f"not an observer event: {event!r}")

    def _workflow(self, event: WorkflowStarted) -> dict[str, Any]:
        version = self.workflow_version
        if version is None:
            began = datetime.datetime.fromtimestamp(event.time_began)
            version = str(began.replace(microsecond=0))
        return {
            "run_id": event.run_id,
            "workflow_name": self.workflow_name,
            "workflow_version": version,
            "time_began": event.time_began,
            "host": socket.gethostname(),
            "user": getpass.getuser(),
            "rundir": event.run_dir,
            "tasks_failed_count": 0,
            "tasks_completed_count": 0,
        }

    def task_changes(self, events: Sequence[TaskStateChanged]) -> list[Op]:
        """The operations that record ``events``, one run's task state changes in order:
        a ``status`` row for each, but only one ``task`` row per task and one ``try``
        row per try, from its latest event (the events carry their task's and try's
        whole story so far, and the store would merge the rows anyway). A busy
        workflow's batches hold all states of most tasks, so this makes a third of
        the rows the store would otherwise fold. The rows are tuples in the order
        of :data:`TUPLE_COLUMNS` (this is the recorder's hot path)."""
        ops: list[Op] = []
        add = ops.append
        # task id -> (latest event, fail count, fail history); (task id, try) -> (event, history)
        latest: dict[int, tuple[TaskStateChanged, int, str | None]] = {}
        first: dict[int, TaskStateChanged] = {}
        tries: dict[tuple[int, int], tuple[TaskStateChanged, str | None]] = {}
        failures = self._failures
        for event in events:
            run_id, tid, _, state, try_id, _, timestamp, _, launched = event[:9]
            history = failures.get(tid)
            # A try failed: the task will be retried, or fails for good after a try ran.
            if state == "fail_retryable" or (state == "failed" and launched is not None):
                if history is None:
                    history = failures[tid] = []
                history.append(event.error)
            if state in FINAL_STATES:
                failures.pop(tid, None)
            if history:
                fail_history = ",".join(e for e in history if e) or None
                latest[tid] = (event, len(history), fail_history)
            else:
                fail_history = None
                latest[tid] = (event, 0, None)
            if state == "pending":
                first[tid] = event
            elif launched is not None:
                tries[tid, try_id] = (event, fail_history)
            add(("status", (tid, state, timestamp, run_id, try_id)))
        for tid, (event, fail_count, _) in latest.items():
            add(("task", _task_row(event, fail_count, first.get(tid))))
        for event, fail_history in tries.values():
            add(("try", _try_row(event, fail_history)))
        return ops


#: the columns of the rows :meth:`RowMaker.task_changes` makes as tuples, in order: the
#: tables' own order, so the store hands them to the driver as they are
TUPLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "status": ("task_id", "task_status_name", "timestamp", "run_id", "try_id"),
    "task": (
        "task_id",
        "run_id",
        "task_depends",
        "task_func_name",
        "task_memoize",
        "task_hashsum",
        "task_inputs",
        "task_outputs",
        "task_stdin",
        "task_stdout",
        "task_stderr",
        "task_time_invoked",
        "task_time_returned",
        "task_fail_count",
        "task_fail_cost",
        "task_status_name",
        "task_error",
    ),
    "try": (
        "try_id",
        "task_id",
        "run_id",
        "block_id",
        "hostname",
        "task_executor",
        "task_try_time_launched",
        "task_try_time_running",
        "task_try_time_returned",
        "task_fail_history",
        "task_joins",
    ),
}


def _task_row(
    event: TaskStateChanged, fail_count: int, pending: TaskStateChanged | None
) -> tuple[Any, ...]:
    """The ``task`` row as of ``event``; with what only the ``pending`` event says, if given."""
    final = event.state in FINAL_STATES
    depends = event.depends
    if pending is None:
        stdout = stderr = memoize = None
    else:
        stdout, stderr, memoize = pending.stdout, pending.stderr, str(pending.memoize)
    return (
        event.task_id,
        event.run_id,
        ",".join(map(str, depends)) if depends else None,
        event.func_name,
        memoize,  # Parsl's text form
        None,
        None,
        None,
        None,
        stdout,
        stderr,
        event.time_invoked,
        event.timestamp if final else None,
        fail_count,
        None,
        event.state,
        event.error if final else None,
    )


def _try_row(event: TaskStateChanged, fail_history: str | None) -> tuple[Any, ...]:
    """The ``try`` row of ``event``'s try, as of ``event``."""
    launched = event.try_time_launched
    returned = event.try_time_returned
    # a relaunched task still carries its previous try's return time
    if launched is None or (returned is not None and returned < launched):
        returned = None
    return (
        event.try_id,
        event.task_id,
        event.run_id,
        event.block_id,
        None,
        event.executor or "",
        launched,
        event.try_time_running,
        returned,
        fail_history,
        None,
    )


def _workflow_end(event: WorkflowFinished) -> dict[str, Any]:
    counts = event.task_counts
    return {
        "run_id": event.run_id,
        "time_completed": event.time_completed,
        # Parsl's meaning: tasks that ended exec_done / failed
        "tasks_completed_count": counts.get("exec_done", 0),
        "tasks_failed_count": counts.get("failed", 0),
    }


def _block(event: BlockStateChanged) -> dict[str, Any]:
    return {
        "run_id": event.run_id,
        "executor_label": event.executor,
        "block_id": event.block_id,
        "job_id": event.job_id,
        "timestamp": event.timestamp,
        "status": event.state,
        "message": event.message or None,
    }


#: a sample's keys -> the ``resource`` columns (Parsl's names)
_RESOURCE_COLUMNS = {
    "pid": "psutil_process_pid",
    "cpu_num": "psutil_cpu_num",
    **{field: f"psutil_process_{field}" for field in FIELDS if field != "cpu_num"},
}


def _resource(event: ResourceSample) -> list[Op]:
    """The sample in ``resource``, and the host it ran on in its ``try`` row."""
    row: dict[str, Any] = {
        "try_id": event.try_id,
        "task_id": event.task_id,
        "run_id": event.run_id,
        "timestamp": event.timestamp,
        "resource_monitoring_interval": event.interval,
    }
    for key, column in _RESOURCE_COLUMNS.items():
        row[column] = event.values.get(key)
    host = {
        "try_id": event.try_id,
        "task_id": event.task_id,
        "run_id": event.run_id,
        "task_executor": event.executor,
        "hostname": event.values.get("hostname"),
    }
    return [("resource", row), ("try", host)]


def _node(event: NodeChanged) -> dict[str, Any]:
    return {
        "run_id": event.run_id,
        "hostname": event.hostname,
        "uid": event.uid,
        "block_id": event.block_id,
        "cpu_count": event.cpu_count,
        "total_memory": event.total_memory,
        "active": event.active,
        "worker_count": event.worker_count,
        "python_v": event.python_version,
        "timestamp": event.timestamp,
        "last_heartbeat": event.timestamp,
    }
