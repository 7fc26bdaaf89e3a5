"""``threads``: run tasks on a pool of threads in the submitting process."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from plait.app.bash import kill_command_of_thread, kill_running_commands
from plait.errors import InvalidResourceSpecification
from plait.executors.base import Executor
from plait.lean_future import LeanFuture
from plait.resources import sampler

logger = logging.getLogger(__name__)

_STOP = None
_ACCEPTED_RESOURCES = frozenset({"priority"})


class ThreadPoolExecutor(Executor):
    """Tasks run on ``max_threads`` threads of the submitting process.

    Best for I/O-bound work and for apps that release the GIL. Threads cannot be
    killed: a task cancelled or timed out while running finishes in the
    background and its result is discarded.

    :param label: the executor's label.
    :param max_threads: how many tasks run at once.
    :param thread_name_prefix: prefix of the threads' names (default ``plait-<label>``).
    :param storage_access: staging providers for this executor (default: all registered).
    :param working_dir: directory tasks stage files into.
    """

    plugin_name = "threads"
    can_cancel_running = True  # for bash apps: their command is killed
    runs_in_process = True

    def __init__(
        self,
        label: str = "threads",
        max_threads: int = 2,
        thread_name_prefix: str | None = None,
        storage_access: list[Any] | None = None,
        working_dir: str | None = None,
    ) -> None:
        if not isinstance(max_threads, int) or max_threads < 1:
            from plait.errors import ConfigError

            raise ConfigError("ThreadPoolExecutor.max_threads", max_threads, "an integer >= 1")
        self.label = label
        self.max_threads = max_threads
        self.thread_name_prefix = thread_name_prefix
        self.storage_access = storage_access
        self.working_dir = working_dir
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._shut_down = False
        self._current: dict[int, Future[Any]] = {}
        self._stopped = threading.Event()

    def start(self) -> None:
        """Start the worker threads (and the resource sampler, when monitoring asks)."""
        with self._lock:
            if self._threads or self._shut_down:
                return
            prefix = self.thread_name_prefix or f"plait-{self.label}"
            for i in range(self.max_threads):
                thread = threading.Thread(target=self._work, name=f"{prefix}-{i}", daemon=True)
                thread.start()
                self._threads.append(thread)
            if self.resource_interval is not None and self.on_resource_sample is not None:
                sample = sampler()
                if sample is not None:
                    threading.Thread(
                        target=self._sample_resources,
                        args=(sample, self.resource_interval, self.on_resource_sample),
                        name=f"{prefix}-resources",
                        daemon=True,
                    ).start()

    def monitor_resources(self) -> bool:
        """Yes: the submitting process, sampled for every task running in it."""
        return True

    def _sample_resources(
        self,
        sample: Callable[[], dict[str, Any]],
        interval: float,
        report: Callable[[Future[Any], dict[str, Any]], None],
    ) -> None:
        """Every ``interval`` seconds while tasks run: one sample of this process, reported
        for each of them (threads share the process: its use is theirs together)."""
        while not self._stopped.wait(interval):
            running = list(self._current.values())
            if not running:
                continue
            try:
                values = sample()
            except Exception as exc:  # the process is ours: this should not happen
                logger.warning("resource sample failed: %s", exc)
                continue
            for fut in running:
                report(fut, values)

    def submit(
        self,
        func: Callable[..., Any],
        resource_specification: dict[str, Any],
        *args: Any,
        **kwargs: Any,
    ) -> Future[Any]:
        """Queue ``func(*args, **kwargs)`` for the next free thread."""
        if resource_specification and not resource_specification.keys() <= _ACCEPTED_RESOURCES:
            unknown = set(resource_specification) - _ACCEPTED_RESOURCES
            raise InvalidResourceSpecification(
                unknown,
                f"the threads executor {self.label!r} cannot honour resource requests "
                f"{sorted(unknown)}; run this app on an executor that can (e.g. htex)",
            )
        if self._shut_down:
            from plait.errors import ExecutorError

            raise ExecutorError(self, "has been shut down; load a new config to submit tasks")
        if not self._threads:
            self.start()
        fut: Future[Any] = LeanFuture()
        self._queue.put((fut, func, args, kwargs))
        return fut

    def _work(self) -> None:
        get = self._queue.get
        current = self._current
        me = threading.get_ident()
        while True:
            item = get()
            if item is _STOP:
                return
            fut, func, args, kwargs = item
            if not fut.set_running_or_notify_cancel():
                continue
            current[me] = fut
            report = self.on_task_running
            if report is not None:
                report(fut, time.time(), None)
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                fut.set_exception(exc)
            else:
                fut.set_result(result)
            finally:
                current.pop(me, None)
            del item, fut, func, args, kwargs

    def cancel(self, future: Future[Any]) -> bool:
        """Withdraw a queued task, or kill the command of a running bash app.

        A running Python function cannot be stopped: returns False for it.
        """
        if future.cancel():
            return True
        for thread_id, running in list(self._current.items()):
            if running is future:
                return kill_command_of_thread(thread_id)
        return False

    def shutdown(self, timeout: float = 2.0) -> None:
        """Withdraw queued tasks and stop the threads; waits at most ``timeout`` seconds
        for running tasks (threads still busy after that are left to finish as daemons)."""
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
            self._stopped.set()
            threads = list(self._threads)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                item[0].cancel()
        for _ in threads:
            self._queue.put(_STOP)
        deadline = time.monotonic() + timeout
        grace = time.monotonic() + min(0.5, timeout)
        for thread in threads:
            thread.join(max(0.0, grace - time.monotonic()))
        if any(t.is_alive() for t in threads):
            kill_running_commands()  # a bash app still running must not outlive the workflow
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        busy = [t.name for t in threads if t.is_alive()]
        if busy:
            logger.warning("threads still running user code at shutdown: %s", ", ".join(busy))
