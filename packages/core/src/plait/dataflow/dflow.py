"""The DataFlowKernel: turns app calls into tasks and runs them as their inputs complete.

The path of one task, and the cost that matters (tens of microseconds):

1. :meth:`DataFlowKernel.submit` makes a :class:`TaskRecord` and an
   :class:`AppFuture`, and finds futures among the arguments.
2. Each unfinished dependency gets a done-callback; the last one to finish
   launches the task (no polling, no launch thread).
3. :meth:`DataFlowKernel._launch` checks the app cache and hands the call to the
   executor; the executor's future gets one done-callback.
4. :meth:`DataFlowKernel._on_exec_done` retries, joins or completes the AppFuture,
   then forgets the task record (so dropped futures cost no memory).

Observer hooks see every state change, but only when a plugin implements them:
with none, no event object is ever built.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import CancelledError, Future, InvalidStateError
from concurrent.futures import wait as wait_futures
from typing import TYPE_CHECKING, Any, TypeVar

from plait.config import Config
from plait.data_provider.files import File
from plait.dataflow.dependencies import find_futures, unwrap_futures
from plait.dataflow.futures import AppFuture, DataFuture
from plait.dataflow.rundirs import make_rundir
from plait.dataflow.staging import StagingSelector
from plait.dataflow.states import FINAL_STATES, States
from plait.dataflow.taskrecord import TaskRecord
from plait.dataflow.timers import DeadlineTimer
from plait.errors import (
    AppTimeout,
    DependencyError,
    ExecutorError,
    JoinError,
    NoDataFlowKernelError,
)
from plait.events import ResourceSample, TaskStateChanged, WorkflowFinished, WorkflowStarted
from plait.executors.threads import ThreadPoolExecutor
from plait.journal import TaskJournal
from plait.plugins import get_plugins

if TYPE_CHECKING:
    from plait.app.app import AppBase
    from plait.executors.base import Executor
    from plait.jobs.poller import BlockPoller

logger = logging.getLogger("plait")

M = TypeVar("M")

#: how many locks guard task state changes. One lock for all tasks made the threads
#: that finish tasks queue on it: a waiter sleeps, and wakes needing the GIL back, and
#: once begun such a convoy could double the cost of every short task of the run.
#: Tasks that finish at the same moment rarely share one of 64 locks.
LOCK_STRIPES = 64

INTERNAL_LABEL = "_plait_internal"
INLINE_LABEL = "_plait_inline"
#: ``stdout=AUTO_LOGNAME`` / ``stderr=AUTO_LOGNAME`` name the file after the task.
AUTO_LOGNAME = -1


class _InlineExecutor(ThreadPoolExecutor):
    """Runs tiny internal functions (``fut["key"]``) at once in the calling thread."""

    plugin_name = "_inline"

    def submit(
        self,
        func: Callable[..., Any],
        resource_specification: dict[str, Any],
        *args: Any,
        **kwargs: Any,
    ) -> Future[Any]:
        fut: Future[Any] = Future()
        try:
            fut.set_result(func(*args, **kwargs))
        except BaseException as exc:
            fut.set_exception(exc)
        return fut


class _StartsClock:
    """Wraps an app body run in this process so its walltime clock starts with the body."""

    __slots__ = ("args", "func", "start")

    def __init__(self, func: Callable[..., Any], start: Callable[..., None], *args: Any) -> None:
        self.func = func
        self.start = start
        self.args = args

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.start(*self.args)
        return self.func(*args, **kwargs)


def _failures(futures: Iterable[Future[Any]]) -> list[tuple[BaseException, str]]:
    """``(exception, description)`` for each finished future that failed or was cancelled."""
    found: list[tuple[BaseException, str]] = []
    for fut in futures:
        if fut.cancelled():
            found.append((CancelledError(f"{_describe(fut)} was cancelled"), _describe(fut)))
        else:
            exc = fut.exception()
            if exc is not None:
                found.append((exc, _describe(fut)))
    return found


def _describe(fut: Future[Any]) -> str:
    if isinstance(fut, AppFuture):
        return f"task {fut.tid} ({fut.task_record.func_name})"
    if isinstance(fut, DataFuture):
        return f"DataFuture from task {fut.tid}"
    return repr(fut)


class DataFlowKernel:
    """Runs the tasks of one workflow on the executors of one :class:`Config`.

    Usually made by :func:`plait.load`; may be built directly and passed as
    ``data_flow_kernel=`` to app decorators. A context manager: see
    ``Config.exit_mode``.
    """

    def __init__(self, config: Config | None = None) -> None:
        self.config = config if config is not None else Config()
        self.run_id = str(uuid.uuid4())
        self.run_dir = make_rundir(self.config.run_dir)
        self.time_began = time.time()
        self.time_completed: float | None = None
        self.tasks: dict[int, TaskRecord] = {}
        self.cleanup_called = False
        self._ids = itertools.count()
        #: guards changes to the run as a whole (cleanup, the walltime timer)
        self._lock = threading.Lock()
        #: guard task state changes: task ``t``'s is ``_task_locks[t.id % LOCK_STRIPES]``
        self._task_locks = tuple(threading.Lock() for _ in range(LOCK_STRIPES))
        #: final tasks per (app name, state), for progress displays: one counter per
        #: task lock, counted under it
        self._final_by_app: tuple[collections.Counter[tuple[str, States]], ...] = tuple(
            collections.Counter() for _ in range(LOCK_STRIPES)
        )
        self._log_handler = self._start_logging()
        self._debug = logger.isEnabledFor(logging.DEBUG)
        self._retries = self.config.retries
        self._retry_handler = self.config.retry_handler
        self._garbage_collect = self.config.garbage_collect
        self._staging = StagingSelector()
        self._timer: DeadlineTimer | None = None
        self._outstanding = 0
        self._max_outstanding = self.config.max_outstanding_tasks
        self._slots = threading.Condition() if self._max_outstanding else None
        self._plugins = get_plugins()
        #: monitors started for this run, each with the plugin name it is registered under
        self._monitors: list[tuple[Any, str]] = []
        #: journals of this run's task state changes (monitors ask for them)
        self._journals: list[TaskJournal] = []
        #: records one entry in every journal (None: there are none)
        self._journal_append: Callable[[tuple[Any, ...]], None] | None = None
        #: tries whose start an executor reported while only journals record (no
        #: observer hook): by task id, the task, its try, start and block. The start
        #: goes into the journal with the entry that ends the try, or on its own at the
        #: next sweep (:meth:`_journal_running`) for a try still running then: most
        #: tries need one entry fewer, and the report takes no lock
        self._running_unjournaled: dict[int, tuple[TaskRecord, int, float, str | None]] = {}
        self._observe_tasks = False
        #: whether task state changes are recorded at all (journals or observer hooks)
        self._records_tasks = False
        self.executors: dict[str, Executor] = {}
        self.memoizer = self.config.make_memoizer()
        try:
            # inside the try: a bad checkpoint file must not leave plait.log's handler open
            self.memoizer.start(run_dir=self.run_dir, config_run_dir=self.config.run_dir)
            self._start_monitoring()
            self._start_executors(self.config.executors)
            self._update_recording()  # tells every executor, the internal ones too
        except BaseException:
            self._abort_start()
            raise
        self._user_labels = [label for label in self.executors if not label.startswith("_")]
        self._poller = self._start_poller()
        logger.info(
            "plait %s started run %s in %s with executors %s",
            _version(),
            self.run_id,
            self.run_dir,
            ", ".join(self._user_labels),
        )
        if self._plugins.observes("plait_workflow_started"):
            self._plugins.notify_workflow_started(
                WorkflowStarted(
                    self.run_id,
                    self.run_dir,
                    tuple(self._user_labels),
                    self.time_began,
                    self.config,
                )
            )

    # -- start and stop --------------------------------------------------

    def _start_logging(self) -> logging.Handler | None:
        setting = self.config.initialize_logging
        if not setting:
            return None
        handler = logging.FileHandler(os.path.join(self.run_dir, "plait.log"))
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(name)s:%(lineno)d %(threadName)s %(levelname)s %(message)s"
            )
        )
        level = logging.DEBUG if setting == "debug" else logging.INFO
        handler.setLevel(level)
        if logger.level == logging.NOTSET or logger.level > level:
            logger.setLevel(level)
        logger.addHandler(handler)
        return handler

    def _start_monitoring(self) -> None:
        if self.config.monitoring is not None:
            self.add_monitor(self.config.monitoring)
        if self.config.progress:
            from plait.monitoring import progress_monitor

            self.add_monitor(progress_monitor())

    def add_monitor(self, monitor: M) -> M:
        """Start ``monitor`` (a :class:`plait.monitoring.Monitor`) for this run: its
        ``start`` and ``bind``, then it is registered as a plugin, so its observer
        hooks see this run's events, until the run ends and its ``close`` is called.

        ``Config(monitoring=...)`` and ``Config(progress=True)`` come here at start;
        :func:`plait.monitoring.progress` comes here later."""
        start = getattr(monitor, "start", None)
        if start is not None:
            start(self.run_id, self.run_dir, self.config)
        bind = getattr(monitor, "bind", None)
        if bind is not None:
            bind(self)
        name = f"monitor-{self.run_id}-{len(self._monitors)}"
        self._plugins.register(monitor, name)
        self._monitors.append((monitor, name))
        self._update_recording()
        return monitor

    def task_journal(self) -> TaskJournal:
        """Start recording this run's task state changes in a new
        :class:`~plait.journal.TaskJournal` and return it.

        For monitors that record every change: far cheaper for the workflow than
        the ``plait_task_state_changed`` hook. Call it from
        :meth:`Monitor.bind <plait.monitoring.Monitor.bind>`, so the journal
        holds every task of the run from its first state on; entries wait in it
        until taken, so take them for as long as the run lasts. Each call makes
        another journal with every entry from then on (one per consumer)."""
        journal = TaskJournal(self.run_id, self._journal_running)
        self._journals.append(journal)
        self._update_recording()
        return journal

    def _update_recording(self) -> None:
        """Decide whether and how to record task states, and tell every executor (at
        start, and again whenever a monitor or a journal comes)."""
        self._observe_tasks = self._plugins.observes("plait_task_state_changed")
        self._journal_append = _append_to(self._journals)
        self._records_tasks = self._observe_tasks or bool(self._journals)
        report = self._on_task_running if self._records_tasks else None
        for executor in self.executors.values():
            executor.on_task_running = report

    def _start_executors(self, executors: Iterable[Executor]) -> None:
        from plait.executors.blocks import BlockProviderExecutor

        observe_blocks = self._plugins.observes("plait_block_state_changed")
        observe_nodes = self._plugins.observes("plait_node_changed")
        interval = self._resource_interval()
        for executor in executors:
            executor.run_dir = self.run_dir
            executor.run_id = self.run_id
            if isinstance(executor, BlockProviderExecutor):
                if observe_blocks:
                    executor.on_block_state = self._plugins.notify_block_state
                if observe_nodes:
                    executor.on_node = self._plugins.notify_node
            if interval is not None and executor.monitor_resources():
                executor.resource_interval = interval
                executor.on_resource_sample = self._on_resource_sample
            self.executors[executor.label] = executor
            try:
                executor.start()
            except Exception as exc:
                raise ExecutorError(
                    executor, f"failed to start: {type(exc).__name__}: {exc}"
                ) from exc
        internal = ThreadPoolExecutor(
            label=INTERNAL_LABEL, max_threads=self.config.internal_tasks_max_threads
        )
        internal.run_dir = self.run_dir
        self.executors[INTERNAL_LABEL] = internal  # threads start on first use
        self.executors[INLINE_LABEL] = _InlineExecutor(label=INLINE_LABEL)

    def _resource_interval(self) -> float | None:
        """The shortest resource-sampling interval any monitor asks for (None: none does)."""
        if not self._plugins.observes("plait_resource_sampled"):
            return None
        wanted = [
            interval
            for monitor, _ in self._monitors
            if (ask := getattr(monitor, "resource_interval", None)) is not None
            and (interval := ask()) is not None
        ]
        return min(wanted) if wanted else None

    def _on_resource_sample(self, exec_fu: Future[Any], values: dict[str, Any]) -> None:
        """An executor sampled a running try: tell the observers, naming task and try."""
        task: TaskRecord | None = getattr(exec_fu, "_plait_task", None)
        executor = task.executor_obj if task is not None else None
        if task is None or executor is None or executor.resource_interval is None:
            return  # not a task's try (or not launched by this kernel)
        self._plugins.notify_resource_sample(
            ResourceSample(
                self.run_id,
                task.id,
                exec_fu._plait_try,  # type: ignore[attr-defined]
                task.executor,
                time.time(),
                executor.resource_interval,
                values,
            )
        )

    def _start_poller(self) -> BlockPoller | None:
        from plait.executors.blocks import BlockProviderExecutor
        from plait.jobs.poller import BlockPoller

        block_executors = [
            e for e in self.executors.values() if isinstance(e, BlockProviderExecutor)
        ]
        if not block_executors:
            return None
        return BlockPoller(
            block_executors,
            self.config.strategy,
            self.config.strategy_period,
            self.config.max_idletime,
        )

    def _abort_start(self) -> None:
        """Undo a half-finished start: stop what started, so nothing is left behind."""
        self.cleanup_called = True
        for executor in self.executors.values():
            try:
                executor.shutdown()
            except Exception:
                logger.exception("shutting down executor %s after a failed start", executor.label)
        self.memoizer.close()
        self._stop_monitoring()
        self._stop_logging()

    def _stop_monitoring(self) -> None:
        monitors, self._monitors = self._monitors, []
        for monitor, name in reversed(monitors):
            self._plugins.unregister(name)
            close = getattr(monitor, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    logger.exception("closing monitor %r", monitor)

    def _stop_logging(self) -> None:
        if self._log_handler is not None:
            logger.removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None

    def __enter__(self) -> DataFlowKernel:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        mode = self.config.exit_mode
        if mode == "skip":
            return
        try:
            if exc_type is None and mode == "wait":
                self.wait_for_current_tasks()
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        """Cancel unfinished tasks, shut down every executor and close files.

        Idempotent and bounded in time (each executor's shutdown has its own
        limit). Call :meth:`wait_for_current_tasks` first to let tasks finish.
        """
        with self._lock:
            if self.cleanup_called:
                return
            self.cleanup_called = True
        unfinished = [t for t in list(self.tasks.values()) if t.status not in FINAL_STATES]
        for task in unfinished:
            self._cancel_task(task, force=True)
        if unfinished:
            logger.warning("cleanup cancelled %d unfinished tasks", len(unfinished))
        if self._timer is not None:
            self._timer.stop()
        if self._poller is not None:
            self._poller.stop()
        self.memoizer.close()
        for executor in self.executors.values():
            try:
                executor.shutdown()
            except Exception:
                logger.exception("executor %s failed to shut down", executor.label)
        self.time_completed = time.time()
        counts = self.task_counts()
        logger.info("Summary of tasks in DFK: %s", ", ".join(f"{k}={v}" for k, v in counts.items()))
        if self._plugins.observes("plait_workflow_finished"):
            self._plugins.notify_workflow_finished(
                WorkflowFinished(
                    self.run_id, self.run_dir, self.time_began, self.time_completed, counts
                )
            )
        self._stop_monitoring()
        from plait.dataflow import loader

        loader._forget(self)
        self._stop_logging()
        if self._slots is not None:
            with self._slots:
                self._slots.notify_all()

    def wait_for_current_tasks(self) -> None:
        """Block until every task submitted so far (and tasks they submit) has finished."""
        while True:
            pending: list[Future[Any]] = [
                t.app_fu
                for t in list(self.tasks.values())
                if t.status not in FINAL_STATES and t.app_fu is not None and not t.app_fu.done()
            ]
            if not pending:
                return
            wait_futures(pending)

    def task_counts(self) -> dict[str, int]:
        """How many tasks are in each state now (the progress API)."""
        counts = {state.name: 0 for state in States if state is not States.running_ended}
        for (_, state), n in self._final_counts():
            counts[state.name] += n
        for task in list(self.tasks.values()):
            if task.status not in FINAL_STATES:
                counts[task.status.name] += 1
        return counts

    def task_counts_by_app(self) -> dict[str, dict[str, int]]:
        """:meth:`task_counts` for each app, by app name (only the states it has tasks in);
        cheap enough to poll a few times a second while a workflow runs."""
        by_app: dict[str, dict[str, int]] = {}
        for (app, state), n in self._final_counts():
            counts = by_app.setdefault(app, {})
            counts[state.name] = counts.get(state.name, 0) + n
        for task in list(self.tasks.values()):
            if task.status not in FINAL_STATES:
                counts = by_app.setdefault(task.func_name, {})
                counts[task.status.name] = counts.get(task.status.name, 0) + 1
        return by_app

    def _final_counts(self) -> list[tuple[tuple[str, States], int]]:
        """How many tasks ended in each state, by (app name, state); a key may come
        more than once (once per task lock)."""
        counted: list[tuple[tuple[str, States], int]] = []
        for lock, counter in zip(self._task_locks, self._final_by_app, strict=True):
            with lock:
                counted.extend(counter.items())
        return counted

    @property
    def task_state_counts(self) -> dict[States, int]:
        """Parsl's form of :meth:`task_counts`, keyed by :class:`States`."""
        return {States[name]: n for name, n in self.task_counts().items()}

    def checkpoint(self) -> None:
        """Write pending results to this run's checkpoint file now (for ``manual`` mode)."""
        self.memoizer.checkpoint()

    # -- submission ------------------------------------------------------

    def submit(self, app: AppBase, args: tuple[Any, ...], kwargs: dict[str, Any]) -> AppFuture:
        """Create a task for ``app(*args, **kwargs)`` and return its future."""
        if self.cleanup_called:
            raise NoDataFlowKernelError(
                f"the DataFlowKernel of run {self.run_dir} has been cleaned up; "
                "load a new config with plait.load() to run more tasks"
            )
        if self._slots is not None:
            self._take_slot()
        tid = next(self._ids)
        if app.labels is None:
            pool = self._user_labels
        else:
            pool = app.labels
        label = pool[0] if len(pool) == 1 else random.choice(pool)
        task = TaskRecord(
            self, tid, app.func_to_run, app.__name__, args, kwargs, label, time.time()
        )
        fut = AppFuture(task)
        task.app_fu = fut
        if app.cache:
            task.memoize = True
            task.ignore_for_cache = app.ignore_for_cache
        if app.join:
            task.join = True
        self.tasks[tid] = task
        error = (
            self._apply_special_kwargs(app, task, fut) if (kwargs or app.special_defaults) else None
        )
        if error is not None:
            if self._records_tasks:  # every task's first state is pending
                self._record(task)
            self._fail(task, error, States.failed)
            return fut
        deps = find_futures(task.args or (), task.kwargs or {})
        if self._debug:
            logger.debug(
                "task %d %s submitted with %d dependencies", tid, task.func_name, len(deps)
            )
        task.depends = deps
        if not deps:
            # launched (or memo_done) in this call: its pending state is recorded with
            # that next state, in one journal entry
            self._launch(task, pending_unrecorded=self._records_tasks)
            return fut
        if self._records_tasks:
            self._record(task)
        task.pending_deps = len(deps)
        if len(deps) > 1:
            task.lock = threading.Lock()
        callback = self._dep_done_callback(task)
        for dep in deps:
            dep.add_done_callback(callback)
        return fut

    def _take_slot(self) -> None:
        """Count one more outstanding task, first waiting for a free slot if the caller is
        the user's own thread. plait's threads (join app bodies, apps calling apps) never
        wait: the tasks holding the slots may be waiting on exactly what they submit."""
        assert self._slots is not None and self._max_outstanding is not None
        user_thread = not threading.current_thread().name.startswith("plait-")
        with self._slots:
            while (
                user_thread
                and self._outstanding >= self._max_outstanding
                and not self.cleanup_called
            ):
                self._slots.wait(1.0)
            self._outstanding += 1

    def _apply_special_kwargs(
        self, app: AppBase, task: TaskRecord, fut: AppFuture
    ) -> BaseException | None:
        kwargs = task.kwargs
        assert kwargs is not None
        if app.special_defaults:
            for name, value in app.special_defaults.items():
                kwargs.setdefault(name, value)
        spec = kwargs.get("parsl_resource_specification") or kwargs.get("resource_specification")
        resources = dict(spec) if spec else {}
        if "priority" in kwargs:
            resources["priority"] = kwargs["priority"]
        task.resource_specification = resources
        walltime = kwargs.get("walltime")
        if walltime is not None:
            task.walltime = float(walltime)
        for kind in ("stdout", "stderr"):
            value = kwargs.get(kind)
            if value is None:
                continue
            if value is AUTO_LOGNAME or (type(value) is int and value == AUTO_LOGNAME):
                value = self._auto_logname(task, kind)
                kwargs[kind] = value
                if kind not in task.ignore_for_cache:
                    task.ignore_for_cache = [*task.ignore_for_cache, kind]
            if isinstance(value, File):
                setattr(fut, f"_{kind}", DataFuture(fut, value, task.id))
            else:
                setattr(fut, f"_{kind}", value)
        outputs = kwargs.get("outputs")
        if outputs:
            fut._outputs = tuple(
                DataFuture(fut, f if isinstance(f, File) else File(f), task.id) for f in outputs
            )
        if "inputs" in kwargs or outputs:
            try:
                task.func = self._staging.wrap(task.func, kwargs, self.executors.get(task.executor))
            except Exception as exc:
                return exc
        for name in app.strip:
            kwargs.pop(name, None)
        return None

    def _auto_logname(self, task: TaskRecord, kind: str) -> Any:
        if self.config.std_autopath is not None:
            return self.config.std_autopath(task, kind)
        label = task.kwargs.get("label") if task.kwargs else None
        suffix = f"_{label}" if label else ""
        return os.path.join(
            self.run_dir,
            "task_logs",
            f"{task.id // 10000:04d}",
            f"task_{task.id:04d}_{task.func_name}{suffix}.{kind}",
        )

    def _dep_done_callback(self, task: TaskRecord) -> Callable[[Future[Any]], None]:
        def dep_done(_: Future[Any]) -> None:
            lock = task.lock
            if lock is None:
                task.pending_deps = 0
            else:
                with lock:
                    task.pending_deps -= 1
                    if task.pending_deps:
                        return
            self._launch_if_ready(task)

        return dep_done

    def _launch_if_ready(self, task: TaskRecord) -> None:
        if task.cancelled or task.status in FINAL_STATES:
            return
        failures = _failures(task.depends)
        if failures:
            self._fail(task, DependencyError(failures, task.id), States.dep_fail)
            return
        try:
            task.args, task.kwargs = unwrap_futures(task.args or (), task.kwargs or {})
        except Exception as exc:  # a dependency's result cannot be rebuilt into a container
            self._fail(task, exc, States.failed)
            return
        self._launch(task)

    def _launch(self, task: TaskRecord, pending_unrecorded: bool = False) -> None:
        """Launch ``task``'s first try, or complete it from the memo cache.

        :param pending_unrecorded: ``task``'s pending state is still to be recorded
            (with its launch, when it launches).
        """
        if task.memoize:
            if pending_unrecorded:
                self._record(task)
                pending_unrecorded = False
            try:
                hit = self.memoizer.check_memo(task)
            except Exception as exc:
                self._fail(task, exc, States.failed)
                return
            if hit is not None:
                task.from_memo = True
                cached_exc = hit.exception()
                if cached_exc is None:
                    self._complete(task, hit.result(), States.memo_done)
                else:
                    self._fail(task, cached_exc, States.memo_done)
                return
        self._launch_try(task, pending_unrecorded)

    def _launch_try(self, task: TaskRecord, pending_unrecorded: bool = False) -> None:
        executor = self.executors.get(task.executor)
        if executor is None:
            if pending_unrecorded:
                self._record(task)
            known = ", ".join(repr(label) for label in self._user_labels)
            self._fail(
                task,
                ExecutorError(
                    task.executor,
                    f"app {task.func_name} asks for executor {task.executor!r}, which is not in "
                    f"this config; configured executors: {known}",
                ),
                States.failed,
            )
            return
        task.executor_obj = executor
        launched = task.try_time_launched = time.time()
        if task.try_id:  # a new try: it has neither started nor returned yet
            task.try_time_running = task.try_time_returned = task.block_id = None
        task.status = States.launched
        if self._records_tasks:  # launched at the time the try says (the journal's rule)
            self._record_launch(task, launched, pending_unrecorded)
        func = task.func
        resources = task.resource_specification
        if task.walltime is not None:
            if executor.enforces_walltime:
                resources = {**resources, "walltime": task.walltime}
            elif executor.runs_in_process:
                # the clock starts when the body starts, not while it waits for a thread
                func = _StartsClock(func, self._start_walltime, task, task.try_id)
            else:
                self._start_walltime(task, task.try_id)
        try:
            exec_fu = executor.submit(func, resources, *(task.args or ()), **(task.kwargs or {}))
        except Exception as exc:
            self._try_failed(task, exc)
            return
        # the try before the task: _on_task_running reads them in the other order
        exec_fu._plait_try = task.try_id  # type: ignore[attr-defined]
        exec_fu._plait_task = task  # type: ignore[attr-defined]
        if self._records_tasks:
            early = getattr(exec_fu, "_plait_running", None)
            if early is not None:  # it started before submit returned
                self._mark_running(task, task.try_id, *early)
        task.exec_fu = exec_fu
        exec_fu.add_done_callback(self._on_exec_done)

    def _on_task_running(self, exec_fu: Future[Any], started: float, block_id: str | None) -> None:
        """An executor says a try's body started (``Executor.on_task_running``)."""
        task: TaskRecord | None = getattr(exec_fu, "_plait_task", None)
        if task is None:
            # submit has not returned yet: leave the news where _launch_try looks for
            # it, then look again (one of the two sees the other's write)
            exec_fu._plait_running = (started, block_id)  # type: ignore[attr-defined]
            task = getattr(exec_fu, "_plait_task", None)
            if task is None:
                return
        self._mark_running(task, exec_fu._plait_try, started, block_id)  # type: ignore[attr-defined]

    def _mark_running(
        self, task: TaskRecord, try_id: int, started: float, block_id: str | None
    ) -> None:
        """Move a launched try to ``running`` (once; later news of it is ignored).

        With only journals recording, the try stays ``launched`` and its start waits
        in :attr:`_running_unjournaled` (see there); the sweep moves it on."""
        if not self._observe_tasks:
            if task.try_id == try_id and task.status is States.launched:
                task.try_time_running = started
                task.block_id = block_id
                self._running_unjournaled[task.id] = (task, try_id, started, block_id)
            return
        with self._task_locks[task.id % LOCK_STRIPES]:
            if task.try_id != try_id or task.status is not States.launched:
                return
            task.try_time_running = started
            task.block_id = block_id
            task.status = States.running
        append = self._journal_append
        if append is not None:  # once per task: the entry is made here, not in _record
            append((task.id, "running", try_id, started, block_id))
        self._notify_observers(task, started, None)

    def _journal_running(self) -> None:
        """Journal the start of every try whose start waits in
        :attr:`_running_unjournaled`: it is still running (its end takes the start
        along otherwise), and a monitor shows it running from now on. Called by the
        journals before each :meth:`~plait.journal.TaskJournal.take`, in the
        consumer's thread; under the task's lock, as the ends of tries take theirs,
        so a start is journaled once and before its try's end."""
        waiting = self._running_unjournaled
        if not waiting:
            return
        append = self._journal_append
        locks = self._task_locks
        for tid in list(waiting):
            with locks[tid % LOCK_STRIPES]:
                found = waiting.pop(tid, None)
                if found is None:
                    continue
                task, try_id, started, block_id = found
                if task.try_id != try_id or task.status is not States.launched:
                    continue  # news of a try that has ended meanwhile
                task.status = States.running
                if append is not None:
                    append((tid, "running", try_id, started, block_id))

    def _start_walltime(self, task: TaskRecord, try_id: int) -> None:
        if self._timer is None:
            with self._lock:
                if self._timer is None:
                    self._timer = DeadlineTimer()
        assert task.walltime is not None
        self._timer.schedule(task.walltime, self._walltime_expired, task, try_id)

    def _on_exec_done(self, exec_fu: Future[Any]) -> None:
        task: TaskRecord = exec_fu._plait_task  # type: ignore[attr-defined]
        # Done-callbacks run once the future is final, so its outcome can be read
        # without taking its lock again (this is the per-task hot path).
        if (
            exec_fu._state != "FINISHED"
            or exec_fu._plait_try != task.try_id  # type: ignore[attr-defined]
            or task.status in FINAL_STATES
        ):
            return  # a cancelled or timed-out try: its outcome is discarded
        task.try_time_returned = time.time()
        exc = exec_fu._exception
        if exc is not None:
            self._try_failed(task, exc)
        elif task.join:
            self._start_join(task, exec_fu._result)
        else:
            result = exec_fu._result
            if task.memoize:
                self.memoizer.update_memo_result(task, result)
            self._complete(task, result, States.exec_done)

    def _walltime_expired(self, task: TaskRecord, try_id: int) -> None:
        if task.try_id != try_id or task.status in FINAL_STATES or task.status is States.joining:
            return
        if task.exec_fu is not None and task.exec_fu.done():
            return
        if task.exec_fu is not None and task.executor_obj is not None:
            task.executor_obj.cancel(task.exec_fu)
        self._try_failed(
            task,
            AppTimeout(
                f"task {task.id} ({task.func_name}) exceeded its walltime of {task.walltime:g} s"
            ),
            stale_try=True,
        )

    def _try_failed(self, task: TaskRecord, exc: BaseException, stale_try: bool = False) -> None:
        with self._task_locks[task.id % LOCK_STRIPES]:
            if task.status in FINAL_STATES:
                return
            if stale_try:
                task.try_id += 1  # the running try's late result will be ignored
        task.fail_count += 1
        task.fail_history.append(f"{type(exc).__name__}: {exc}")
        cost: float = 1.0
        if self._retry_handler is not None:
            try:
                cost = self._retry_handler(exc, task)
            except Exception as handler_exc:
                exc, cost = handler_exc, float("inf")
        task.fail_cost += cost
        if task.fail_cost <= self._retries and not self.cleanup_called:
            self._set_state(task, States.fail_retryable)
            if not stale_try:
                task.try_id += 1
            self._launch_try(task)
            return
        if task.memoize:
            self.memoizer.update_memo_exception(task, exc)
        self._fail(task, exc, States.failed)

    # -- join apps -------------------------------------------------------

    def _start_join(self, task: TaskRecord, inner: Any) -> None:
        if isinstance(inner, Future):
            futures = [inner]
        elif isinstance(inner, list) and all(isinstance(f, Future) for f in inner):
            futures = inner
        else:
            self._fail(
                task,
                TypeError(
                    f"join_app {task.func_name} must return a Future or a list of Futures, "
                    f"but returned {type(inner).__name__}; return the futures of the apps it calls"
                ),
                States.failed,
            )
            return
        task.joins = inner
        self._set_state(task, States.joining)
        if not futures:
            self._complete(task, [], States.exec_done)
            return
        remaining = [len(futures)]
        lock = threading.Lock()

        def inner_done(_: Future[Any]) -> None:
            with lock:
                remaining[0] -= 1
                if remaining[0]:
                    return
            self._finish_join(task, futures, single=isinstance(inner, Future))

        for fut in futures:
            fut.add_done_callback(inner_done)

    def _finish_join(self, task: TaskRecord, futures: list[Future[Any]], single: bool) -> None:
        failures = _failures(futures)
        if failures:
            error = JoinError(failures, task.id)
            if task.memoize:
                self.memoizer.update_memo_exception(task, error)
            self._fail(task, error, States.failed)
            return
        result = futures[0].result() if single else [f.result() for f in futures]
        if task.memoize:
            self.memoizer.update_memo_result(task, result)
        self._complete(task, result, States.exec_done)

    # -- completion ------------------------------------------------------

    def _set_state(self, task: TaskRecord, state: States) -> None:
        """Move ``task`` to the non-final ``state`` (``joining``, ``fail_retryable``:
        both end a try) and record it, with the try's start if that waits to be
        journaled (under the task's lock, as :meth:`_journal_running` takes it)."""
        with self._task_locks[task.id % LOCK_STRIPES]:
            task.status = state
            started = self._running_unjournaled.pop(task.id, None)
        if self._records_tasks:
            self._record(task, started=started)

    def _record(
        self,
        task: TaskRecord,
        error: BaseException | None = None,
        at: float | None = None,
        started: tuple[TaskRecord, int, float, str | None] | None = None,
    ) -> None:
        """Record ``task``'s new state (at ``at``, default now; pending at the call's
        time) in the journals and tell the observer hooks. The per-task hot path while
        a monitor is on: positional tuples, no enum property lookups; journal entries
        carry only what changed (the forms are in :mod:`plait.journal`).

        :param started: the try's start, taken from :attr:`_running_unjournaled`, to
            journal with this state that ends the try.
        """
        status = task.status
        if at is not None:
            now = at
        elif status is States.pending:
            now = task.time_invoked
        else:
            now = time.time()
        message = None if error is None else f"{type(error).__name__}: {error}"
        append = self._journal_append
        if append is not None:
            if started is not None and started[1] != task.try_id:
                # a try given up on (its walltime passed) before its start was journaled
                append((task.id, "running", *started[1:]))
                started = None
            if status is States.pending:
                append(_pending_entry(task))
            elif started is not None:
                append((task.id, status._name_, task.try_id, now, message, *started[2:]))
            elif message is not None:
                append((task.id, status._name_, task.try_id, now, message))
            else:
                append((task.id, status._name_, task.try_id, now))
        if self._observe_tasks:
            self._notify_observers(task, now, message)

    def _record_launch(self, task: TaskRecord, launched: float, pending_unrecorded: bool) -> None:
        """Record that ``task``'s try was launched at ``launched``; with its pending
        state first if that is still to be recorded, in one journal entry."""
        append = self._journal_append
        if append is not None:
            if pending_unrecorded:
                append((*_pending_entry(task), launched))
            else:
                append((task.id, "launched", task.try_id, launched))
        if self._observe_tasks:
            if pending_unrecorded:
                self._notify_observers(task, task.time_invoked, None, States.pending)
            self._notify_observers(task, launched, None)

    def _notify_observers(
        self, task: TaskRecord, now: float, message: str | None, state: States | None = None
    ) -> None:
        """Tell the ``plait_task_state_changed`` hooks that ``task`` reached ``state``
        (default: its status now)."""
        status = task.status if state is None else state
        if status is States.pending:  # the first state: no try has been launched yet
            launched = returned = running = None
            block = None
            std_and_memo = _std_and_memo(task)
        else:
            launched, returned = task.try_time_launched, task.try_time_returned
            running, block = task.try_time_running, task.block_id
            std_and_memo = _NO_STD
        self._plugins.notify_task_state(
            TaskStateChanged(
                self.run_id,
                task.id,
                task.func_name,
                status._name_,
                task.try_id,
                task.executor,
                now,
                task.time_invoked,
                launched,
                returned,
                message,
                _dependency_ids(task),
                *std_and_memo,
                running,
                block,
            )
        )

    def _complete(self, task: TaskRecord, result: Any, state: States) -> None:
        fut = task.app_fu
        if fut is None or not self._finalize(task, state):
            return
        try:
            fut.set_result(result)
        except InvalidStateError:
            pass  # cancelled by the user meanwhile

    def _fail(self, task: TaskRecord, exc: BaseException, state: States) -> None:
        fut = task.app_fu
        if fut is None or not self._finalize(task, state, exc):
            return
        try:
            fut.set_exception(exc)
        except InvalidStateError:
            pass

    def _finalize(self, task: TaskRecord, state: States, exc: BaseException | None = None) -> bool:
        """Move ``task`` to final ``state`` exactly once; False if it already was final."""
        stripe = task.id % LOCK_STRIPES
        with self._task_locks[stripe]:
            if task.status in FINAL_STATES:
                return False
            task.status = state
            self._final_by_app[stripe][task.func_name, state] += 1
            started = (
                self._running_unjournaled.pop(task.id, None) if self._running_unjournaled else None
            )
        task.time_returned = time.time()
        if self._records_tasks:
            self._record(task, exc, task.time_returned, started)
        if self._debug:
            logger.debug("task %d %s: %s", task.id, task.func_name, state.name)
        # Drop what the record no longer needs, and with it every reference cycle
        # through it (future <-> record, dependency callbacks), so finished tasks
        # are freed by reference counting instead of waiting for the cyclic GC.
        task.args = task.kwargs = task.exec_fu = task.app_fu = task.joins = None
        task.depends = ()
        if self._garbage_collect:
            self.tasks.pop(task.id, None)
        if self._slots is not None:
            with self._slots:
                self._outstanding -= 1
                self._slots.notify()
        return True

    # -- cancellation and derived futures ---------------------------------

    def _cancel_task(self, task: TaskRecord, force: bool = False) -> bool:
        if task.status in FINAL_STATES:
            return False
        exec_fu = task.exec_fu
        if (
            exec_fu is not None
            and not exec_fu.done()
            and task.executor_obj is not None
            and not task.executor_obj.cancel(exec_fu)
            and not force
        ):
            return False  # running, and its executor cannot stop it
        task.cancelled = True
        fut = task.app_fu
        if fut is None or not self._finalize(task, States.cancelled):
            return False
        return fut._cancel_future()

    def _derived(
        self, parent: AppFuture, op: Callable[[Any, Any], Any], key: Any, label: str
    ) -> AppFuture:
        from plait.app.app import InternalApp

        app = InternalApp(op, f"{parent.task_record.func_name}{label}", INLINE_LABEL)
        return self.submit(app, (parent, key), {})


def _version() -> str:
    from plait.__about__ import __version__

    return __version__


def _append_to(journals: list[TaskJournal]) -> Callable[[tuple[Any, ...]], None] | None:
    """One function that appends an entry to each of ``journals`` (None for none)."""
    if not journals:
        return None
    if len(journals) == 1:
        return journals[0].append
    appends = [journal.append for journal in journals]

    def append_to_each(entry: tuple[Any, ...]) -> None:
        for append in appends:
            append(entry)

    return append_to_each


#: the stdout, stderr and memoize fields of the events after ``pending``
_NO_STD = (None, None, False)


def _pending_entry(task: TaskRecord) -> tuple[Any, ...]:
    """The journal entry of ``task``'s pending state (the form is in :mod:`plait.journal`)."""
    return (
        task.id,
        "pending",
        task.try_id,
        task.time_invoked,
        task.func_name,
        task.executor,
        task.time_invoked,
        _dependency_ids(task),
        *_std_and_memo(task),
    )


def _dependency_ids(task: TaskRecord) -> tuple[int, ...]:
    """The ids of the tasks ``task`` depends on."""
    depends = task.depends
    if not depends:
        return ()
    return tuple(d.tid for d in depends if isinstance(d, AppFuture))


def _std_and_memo(task: TaskRecord) -> tuple[str | None, str | None, bool]:
    """The stdout and stderr files of a task's app call, and whether it caches."""
    fut = task.app_fu
    if fut is None:
        return None, None, task.memoize
    return _path_of(fut._stdout), _path_of(fut._stderr), task.memoize


def _path_of(target: Any) -> str | None:
    """The file a ``stdout=``/``stderr=`` value names: a path, ``(path, mode)``, a File
    or its DataFuture."""
    if target is None:
        return None
    if isinstance(target, tuple):
        target = target[0]
    if isinstance(target, DataFuture):
        target = target.file_obj
    if isinstance(target, File):
        return str(target.filepath)
    return os.fspath(target) if isinstance(target, str | os.PathLike) else str(target)
