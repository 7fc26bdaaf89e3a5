"""The futures an app call returns: :class:`AppFuture` and :class:`DataFuture`."""

from __future__ import annotations

import operator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from plait.lean_future import LeanFuture

if TYPE_CHECKING:
    from plait.data_provider.files import File
    from plait.dataflow.taskrecord import TaskRecord


class AppFuture(LeanFuture[Any]):
    """The result of an app call, available once the task reaches a final state.

    Retries are invisible: the future completes once, with the last try's result
    or exception. A user exception is re-raised as itself by :meth:`result`.

    ``fut["key"]``, ``fut[0]`` and ``fut.attr`` return new futures for that part
    of the result, so a dict-returning app can feed its parts to other apps.
    """

    # Class-level defaults: most calls have no outputs or std streams, and the
    # constructor runs once per task.
    _outputs: tuple[DataFuture, ...] = ()
    _stdout: Any = None
    _stderr: Any = None

    def __init__(self, task_record: TaskRecord) -> None:
        super().__init__()
        self.task_record = task_record
        self.tid: int = task_record.id

    @property
    def outputs(self) -> list[DataFuture]:
        """One :class:`DataFuture` per ``File`` in the call's ``outputs=``."""
        return list(self._outputs)

    @property
    def stdout(self) -> Any:
        """The call's ``stdout=`` (a path or tuple), or a DataFuture if it was a ``File``."""
        return self._stdout

    @property
    def stderr(self) -> Any:
        """The call's ``stderr=`` (a path or tuple), or a DataFuture if it was a ``File``."""
        return self._stderr

    def task_status(self) -> str:
        """The task's current state name, e.g. ``"launched"``."""
        return self.task_record.status.name

    def cancel(self) -> bool:
        """Cancel the task if it has not started (or if its executor can stop it).

        Tasks that depended on it fail with :class:`~plait.errors.DependencyError`.
        Returns False if the task already finished or is running on an executor
        that cannot stop running tasks.
        """
        if self.done():
            return self.cancelled()
        return self.task_record.dfk._cancel_task(self.task_record)

    def _cancel_future(self) -> bool:
        return super().cancel()

    def __getitem__(self, key: Any) -> AppFuture:
        return self.task_record.dfk._derived(self, operator.getitem, key, f"[{key!r}]")

    def __getattr__(self, name: str) -> AppFuture:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.task_record.dfk._derived(self, getattr, name, f".{name}")

    def __repr__(self) -> str:
        return f"<AppFuture task {self.tid} ({self.task_record.func_name}) {self._state.lower()}>"


class DataFuture(Future[Any]):
    """A file an app will produce: completes with the ``File`` when the app finishes.

    :param fut: the app's future.
    :param file_obj: the output file.
    :param tid: the producing task's id.
    """

    def __init__(self, fut: Future[Any], file_obj: File, tid: int | None = None) -> None:
        super().__init__()
        self.parent = fut
        self.file_obj = file_obj
        self.tid = tid
        fut.add_done_callback(self._parent_done)

    def _parent_done(self, parent: Future[Any]) -> None:
        if parent.cancelled():
            super().cancel()
            return
        exc = parent.exception()
        if exc is not None:
            self.set_exception(exc)
        else:
            self.set_result(self.file_obj)

    @property
    def filepath(self) -> str:
        """The file's local path."""
        return self.file_obj.filepath

    @property
    def filename(self) -> str:
        """The file's local path (Parsl's name for it)."""
        return self.filepath

    def cancel(self) -> bool:
        """Cancel the task that produces this file."""
        return self.parent.cancel()

    def __repr__(self) -> str:
        return f"<DataFuture {self.file_obj.url} of task {self.tid} {self._state.lower()}>"
