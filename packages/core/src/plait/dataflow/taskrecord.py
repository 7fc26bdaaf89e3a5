"""The record the kernel keeps for each task while it is alive."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from plait.dataflow.states import States

if TYPE_CHECKING:
    from plait.dataflow.dflow import DataFlowKernel
    from plait.dataflow.futures import AppFuture
    from plait.executors.base import Executor


class TaskRecord:
    """One task: what to run, where, and how far it got.

    A slotted object rather than a dict, because the kernel creates one per task on
    the hot path; ``record["key"]`` still works for code written against Parsl's
    ``TaskRecord`` TypedDict. ``args``/``kwargs`` are dropped when the task finishes
    so a future the user keeps does not keep its inputs alive.
    """

    __slots__ = (
        "__weakref__",
        "_fail_history",
        "app_fu",
        "args",
        "block_id",
        "cancelled",
        "depends",
        "dfk",
        "exec_fu",
        "executor",
        "executor_obj",
        "fail_cost",
        "fail_count",
        "from_memo",
        "func",
        "func_name",
        "hashsum",
        "id",
        "ignore_for_cache",
        "join",
        "joins",
        "kwargs",
        "lock",
        "memoize",
        "pending_deps",
        "resource_specification",
        "status",
        "time_invoked",
        "time_returned",
        "try_id",
        "try_time_launched",
        "try_time_returned",
        "try_time_running",
        "walltime",
    )

    def __init__(
        self,
        dfk: DataFlowKernel,
        tid: int,
        func: Callable[..., Any],
        func_name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        executor: str,
        time_invoked: float,
    ) -> None:
        self.dfk = dfk
        self.id = tid
        self.func = func
        self.func_name = func_name
        self.args: tuple[Any, ...] | None = args
        self.kwargs: dict[str, Any] | None = kwargs
        self.executor = executor
        self.executor_obj: Executor | None = None
        self.time_invoked = time_invoked
        self.status = States.pending
        self.depends: Sequence[Future[Any]] = ()
        self.pending_deps = 0
        self.app_fu: AppFuture | None = None
        self.exec_fu: Future[Any] | None = None
        self.fail_count = 0
        self.fail_cost = 0.0
        self._fail_history: list[str] | None = None  # made at the first failure
        self.hashsum: str | None = None
        self.memoize = False
        self.ignore_for_cache: Sequence[str] = ()
        self.from_memo = False
        self.try_id = 0
        self.try_time_launched: float | None = None
        self.try_time_running: float | None = None
        self.try_time_returned: float | None = None
        self.block_id: str | None = None
        self.time_returned: float | None = None
        self.resource_specification: dict[str, Any] = {}
        self.join = False
        self.joins: list[Future[Any]] | Future[Any] | None = None
        self.walltime: float | None = None
        self.cancelled = False
        self.lock: threading.Lock | None = None

    @property
    def fail_history(self) -> list[str]:
        """``"Type: message"`` of each failed try, oldest first. Made when first asked
        for: most tasks never fail, and one list fewer per task is one object fewer
        for the cyclic GC to walk while the user holds the task's future."""
        history = self._fail_history
        if history is None:
            history = self._fail_history = []
        return history

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def __contains__(self, key: str) -> bool:
        return key in _KEYS

    def get(self, key: str, default: Any = None) -> Any:
        """Dict-style access with a default, as on Parsl's TaskRecord."""
        return getattr(self, key, default)

    def __repr__(self) -> str:
        return f"<TaskRecord {self.id} {self.func_name} {self.status.name}>"


#: the keys ``record["key"]`` answers
_KEYS = frozenset(
    {*(name for name in TaskRecord.__slots__ if not name.startswith("_")), "fail_history"}
)
