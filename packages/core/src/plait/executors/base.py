"""The executor contract every executor plugin implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, ClassVar

from plait.utils import RepresentationMixin


class Executor(RepresentationMixin, ABC):
    """Runs tasks somewhere and reports each result through a ``Future``.

    Lifecycle, all in the submitting process: the DataFlowKernel sets ``run_dir``
    and ``run_id``, calls :meth:`start` once, then :meth:`submit` any number of
    times from any thread, and :meth:`shutdown` once or more (it must be
    idempotent and return within its own bounded time).

    :cvar plugin_name: the registry name (``"threads"``, ``"htex"``).
    :cvar can_cancel_running: True if :meth:`cancel` can stop a task that is
        already running (a process it can kill); False if it can only withdraw
        tasks that have not started.
    :cvar runs_in_process: True if tasks run in the submitting process (threads);
        the kernel then starts a task's walltime clock when its body starts. For
        other executors the clock starts at hand-off, and the executor should
        enforce the walltime where the task runs.
    :cvar enforces_walltime: True if the executor times each task's body where it
        runs and fails it with :class:`~plait.errors.AppTimeout`; the kernel then
        passes the walltime as ``resource_specification["walltime"]`` and starts no
        clock of its own.
    """

    plugin_name: ClassVar[str]
    can_cancel_running: ClassVar[bool] = False
    runs_in_process: ClassVar[bool] = False
    enforces_walltime: ClassVar[bool] = False

    label: str = "executor"
    run_dir: str | None = None
    run_id: str | None = None
    working_dir: str | None = None
    storage_access: list[Any] | None = None

    def start(self) -> None:
        """Start the executor (threads, processes, blocks). Called once."""

    @abstractmethod
    def submit(
        self,
        func: Callable[..., Any],
        resource_specification: dict[str, Any],
        *args: Any,
        **kwargs: Any,
    ) -> Future[Any]:
        """Run ``func(*args, **kwargs)``; return a Future for its result.

        The Future fails with the function's own exception if it raised.

        :param resource_specification: the task's resource request (``cores``,
            ``memory``, ``priority``, ...). Raise
            :class:`~plait.errors.InvalidResourceSpecification` naming the keys you
            do not support.
        """

    def cancel(self, future: Future[Any]) -> bool:
        """Stop the task behind ``future``; True if it will not run (or was stopped).

        The default withdraws a task that has not started. Executors that can stop
        running tasks override this and set ``can_cancel_running``.
        """
        return future.cancel()

    @abstractmethod
    def shutdown(self) -> None:
        """Stop everything the executor started. Idempotent; bounded in time."""

    def monitor_resources(self) -> bool:
        """Whether this executor samples running tasks' resource use when
        :attr:`resource_interval` is set."""
        return False

    #: seconds between resource samples of each running try, set by the kernel before
    #: :meth:`start` when a monitor asks for samples (None: do not sample)
    resource_interval: float | None = None
    #: set by the kernel with :attr:`resource_interval`: executors that sample call it
    #: with the future of the sampled try and the values of
    #: :func:`plait.resources.sample`
    on_resource_sample: Callable[[Future[Any], dict[str, Any]], None] | None = None
    #: set by the kernel while a monitor records task states (None otherwise; it may be
    #: set after :meth:`start`, so read it when a task starts): executors that know when
    #: a task's body starts call it with the task's future, that time (``time.time()``
    #: where it ran) and the block it runs in (None without blocks), from any thread,
    #: at most once per future, before or after ``submit`` returned, and at the latest
    #: just before setting the future's result. Executors that learn the start only
    #: with the result report it then; monitors show ``running`` from that moment on.
    on_task_running: Callable[[Future[Any], float, str | None], None] | None = None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
