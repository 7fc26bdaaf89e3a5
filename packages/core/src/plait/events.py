"""Event objects passed to the observer hooks.

Immutable, so they are safe to hand to any number of observers; fields are only
ever added (at the end), never renamed or removed. The events made per task and
per sample (:class:`TaskStateChanged`, :class:`ResourceSample`) are named tuples,
the cheapest immutable object Python builds (a frozen dataclass costs four times
as much, and a workflow makes several per task); the rare ones are frozen
dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class WorkflowStarted:
    """A DataFlowKernel finished starting."""

    run_id: str
    run_dir: str
    executors: tuple[str, ...]
    time_began: float
    config: Any = field(repr=False, default=None)


@dataclass(frozen=True, slots=True)
class WorkflowFinished:
    """A DataFlowKernel finished cleaning up."""

    run_id: str
    run_dir: str
    time_began: float
    time_completed: float
    task_counts: dict[str, int]


class TaskStateChanged(NamedTuple):
    """A task reached a new state.

    :param try_id: the try number, 0 for the first try.
    :param time_invoked: when the app was called (``time.time()``).
    :param try_time_launched: when this try was handed to the executor, or None.
    :param try_time_returned: when this try's result came back, or None.
    :param error: for failure states, ``"Type: message"`` of the exception.
    :param stdout: the file the app's ``stdout=`` names (in the ``pending`` event).
    :param stderr: the file the app's ``stderr=`` names (in the ``pending`` event).
    :param memoize: whether the app caches its results (in the ``pending`` event).
    :param try_time_running: when this try's body started where it runs (that
        machine's ``time.time()``), once its executor said so, or None.
    :param block_id: the block (provider job) this try runs in, once its executor
        said so, or None (executors without blocks).
    """

    run_id: str
    task_id: int
    func_name: str
    state: str
    try_id: int
    executor: str | None
    timestamp: float
    time_invoked: float
    try_time_launched: float | None = None
    try_time_returned: float | None = None
    error: str | None = None
    depends: tuple[int, ...] = ()
    stdout: str | None = None
    stderr: str | None = None
    memoize: bool = False
    try_time_running: float | None = None
    block_id: str | None = None


@dataclass(frozen=True, slots=True)
class BlockStateChanged:
    """A block (one provider job) reached a new state."""

    run_id: str
    executor: str
    block_id: str
    job_id: str | None
    state: str
    timestamp: float
    message: str = ""


class ResourceSample(NamedTuple):
    """What one try of a task used, sampled where it runs while it runs.

    :param values: the sample: ``pid``, ``hostname`` and :data:`plait.resources.FIELDS`
        (CPU seconds, bytes of memory and disk I/O, ...; Parsl's ``resource``
        columns without their ``psutil_process_`` prefix), summed over the process
        that runs the task and its children. On the threads executor the process
        is the whole submitting process, shared by every task running then.
    :param interval: seconds between samples.
    """

    run_id: str
    task_id: int
    try_id: int
    executor: str
    timestamp: float
    interval: float
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NodeChanged:
    """A node of a block joined the executor or left it (a pilot job's manager).

    :param uid: the manager's id, unique per node and block.
    :param active: True when it joined (or is still there), False when it left or was lost.
    """

    run_id: str
    executor: str
    hostname: str
    uid: str
    block_id: str
    cpu_count: int
    total_memory: int
    worker_count: int
    python_version: str
    active: bool
    timestamp: float
