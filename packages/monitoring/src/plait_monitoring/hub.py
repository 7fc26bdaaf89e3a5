"""``MonitoringHub``: Parsl's monitoring switch, recording through plait's observer hooks.

The kernel starts the hub, binds it to the run and registers it as a plugin for
the run, and closes it at the end (see :class:`plait.monitoring.Monitor`). Task
state changes come from the run's task journal (:mod:`plait.journal`), the
cheap path for a monitor that records every change; the rarer events (workflow,
blocks, nodes, resource samples) from observer hooks. Both go, unchanged, to
the hub's recorder process (:mod:`plait_monitoring.recorder`), which turns them
into rows and writes them on a CPU of its own. A workflow without a hub has no
journal and registers no observer, so it pays nothing.

Unlike Parsl's hub there is no port: the recorder listens only on its stdin.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from plait.errors import ConfigError
from plait.events import (
    BlockStateChanged,
    NodeChanged,
    ResourceSample,
    WorkflowFinished,
    WorkflowStarted,
)
from plait.monitoring import Monitor
from plait.plugins import hookimpl
from plait.utils import RepresentationMixin
from plait_monitoring.errors import MonitoringError, SchemaError
from plait_monitoring.urls import check_url, hide_password, hub_url

if TYPE_CHECKING:
    from plait.config import Config
    from plait.dataflow.dflow import DataFlowKernel
    from plait_monitoring.recorder_process import RecorderProcess

logger = logging.getLogger("plait.monitoring")

SPILL_FILE = "monitoring-spill.jsonl"
REJECTED_FILE = "monitoring-rejected.jsonl"
DEBUG_LOG = "monitoring.log"
#: the recorder's CPU priority below the workflow's (``nice``): when the workflow keeps
#: every core busy, the science goes first and rows catch up when it pauses or ends
RECORDER_NICENESS = 10
#: seconds load() waits for the recorder to check the database's schema (it starts,
#: imports SQLAlchemy and Alembic, and makes each database call within its own bound)
READY_TIMEOUT = 60.0


class MonitoringHub(RepresentationMixin, Monitor):
    """Records every task, try, state change and block of a run in a database.

    ``Config(monitoring=MonitoringHub())`` writes to SQLite in
    ``<Config.run_dir>/monitoring.db`` (Parsl's default, shared by the runs under
    that directory); give ``db_url="postgresql+psycopg://user@host/db"`` for a
    shared PostgreSQL server. Rows reach the database while the workflow runs.

    :param hub_address: accepted so Parsl configs run unchanged; plait's hub and its
        recorder process listen on no port.
    :param hub_port_range: likewise accepted and unused.
    :param hub_port: likewise accepted and unused.
    :param workflow_name: the ``workflow_name`` column; default the name of the
        script that loaded the config.
    :param workflow_version: the ``workflow_version`` column; default the time the
        run began.
    :param logging_endpoint: the database URL (Parsl's name for it): ``sqlite:///PATH``
        or ``postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB``.
    :param monitoring_debug: also write a DEBUG log of the writer to
        ``monitoring.log`` in the run directory.
    :param resource_monitoring_enabled: record per-try resource use (CPU time,
        memory, I/O) in the ``resource`` table, sampled where each try runs by
        executors that can (threads: the process; htex: each worker).
    :param resource_monitoring_interval: seconds between resource samples.
    :param db_url: another name for ``logging_endpoint``; give one of them.
    :param max_buffered_records: most records kept in memory while the database is
        unavailable; the older ones go to ``monitoring-spill.jsonl`` in the run
        directory until it is back. While it takes records, only more slowly than
        they come (a burst of short tasks), ten times as many wait in memory first
        (about 200 bytes each).
    :param exit_timeout: at the end of the run, the remaining records are written
        however many there are, but a database that takes none for this many
        seconds is given up on: the rest stay in the spill file, with a warning
        saying how to load them.
    """

    plugin_name = "monitoring"

    def __init__(
        self,
        hub_address: Any = None,
        hub_port_range: Any = None,
        hub_port: Any = None,
        workflow_name: str | None = None,
        workflow_version: str | None = None,
        logging_endpoint: str | None = None,
        monitoring_debug: bool = False,
        resource_monitoring_enabled: bool = True,
        resource_monitoring_interval: float = 30,
        *,
        db_url: str | None = None,
        max_buffered_records: int = 50_000,
        exit_timeout: float = 10.0,
    ) -> None:
        if db_url is not None and logging_endpoint is not None and db_url != logging_endpoint:
            raise ConfigError(
                "db_url",
                db_url,
                "",
                f"db_url is another name for logging_endpoint, which is {logging_endpoint!r}; "
                "give only one of them",
            )
        endpoint = db_url if db_url is not None else logging_endpoint
        if endpoint is not None:
            check_url(endpoint)  # a bad URL fails here, not when the run starts
        _check_number("resource_monitoring_interval", resource_monitoring_interval, 0)
        _check_number("max_buffered_records", max_buffered_records, 1, integer=True)
        _check_number("exit_timeout", exit_timeout, 0)
        self.hub_address = hub_address
        self.hub_port_range = hub_port_range
        self.hub_port = hub_port
        self.workflow_name = workflow_name
        self.workflow_version = workflow_version
        self.logging_endpoint = endpoint
        self.db_url = endpoint
        self.monitoring_debug = monitoring_debug
        self.resource_monitoring_enabled = resource_monitoring_enabled
        self.resource_monitoring_interval = resource_monitoring_interval
        self.max_buffered_records = max_buffered_records
        self.exit_timeout = exit_timeout
        self.run_id: str | None = None
        #: the run's recorder process, while the hub records a run
        self.writer: RecorderProcess | None = None
        self._debug_handler: logging.Handler | None = None

    # -- the Monitor contract --------------------------------------------

    def start(self, run_id: str, run_dir: str, config: Config) -> None:
        """Start the recorder, and wait until it has checked (creating it if needed) the
        database's schema.

        A database that cannot be reached now is not an error: records wait for
        it. One with another schema is (:class:`~plait_monitoring.SchemaError`).
        Neither SQLAlchemy nor Alembic is imported here (:mod:`plait_monitoring.urls`
        says why): the recorder checks the schema and says what it found.
        """
        from plait_monitoring.recorder_process import RecorderProcess

        if self.writer is not None:
            raise ConfigError(
                "monitoring",
                self,
                "",
                f"this MonitoringHub is recording run {self.run_id} already; give each "
                "workflow that runs at the same time its own MonitoringHub",
            )
        url = hub_url(self.logging_endpoint, config.run_dir)
        if self.monitoring_debug:
            self._start_debug_log(run_dir)
        recorder = RecorderProcess(
            {
                "url": url,
                "run_id": run_id,
                "run_dir": run_dir,
                "workflow_name": self.workflow_name or _script_name(),
                "workflow_version": self.workflow_version,
                "max_buffered_records": self.max_buffered_records,
                "exit_timeout": self.exit_timeout,
                "debug": self.monitoring_debug,
                "niceness": RECORDER_NICENESS,
            }
        )
        recorder.start()
        try:
            problem = recorder.wait_ready(READY_TIMEOUT)
        except TimeoutError:
            logger.warning(
                "monitoring: the recorder has not checked %s within %g s; going on, "
                "records wait until it can write them",
                hide_password(url),
                READY_TIMEOUT,
            )
            problem = None
        if problem is not None:
            recorder.discard()
            self._stop_debug_log()
            kind, message = problem
            if kind == "SchemaError":
                raise SchemaError(message)
            raise MonitoringError(
                f"cannot record this run into {hide_password(url)}: {kind}: {message}"
            )
        self.run_id, self.writer = run_id, recorder
        logger.info("monitoring run %s into %s", run_id, hide_password(url))

    def bind(self, kernel: DataFlowKernel) -> None:
        """Take the run's task state changes from a task journal of its own."""
        if self.writer is not None:
            self.writer.attach(kernel.task_journal())

    def close(self) -> None:
        """Write what is left (see ``exit_timeout``)."""
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.close(self.exit_timeout)
            logger.info("monitoring wrote %d records for run %s", writer.written, self.run_id)
        self.run_id = None
        self._stop_debug_log()

    # -- observer hooks: send this run's events, nothing else --------------

    def _put(self, event: Any) -> None:
        writer = self.writer
        if writer is not None and event.run_id == self.run_id:
            writer.put(event)

    @hookimpl
    def plait_workflow_started(self, event: WorkflowStarted) -> None:
        """Record the run in ``workflow``."""
        self._put(dataclasses.replace(event, config=None))  # the Config is not recorded

    @hookimpl
    def plait_block_state_changed(self, event: BlockStateChanged) -> None:
        """Record the block's new state in ``block``."""
        self._put(event)

    @hookimpl
    def plait_resource_sampled(self, event: ResourceSample) -> None:
        """Record the sample in ``resource`` (and the try's host in ``try``)."""
        self._put(event)

    @hookimpl
    def plait_node_changed(self, event: NodeChanged) -> None:
        """Record the node in ``node``."""
        self._put(event)

    def resource_interval(self) -> float | None:
        """``resource_monitoring_interval`` when ``resource_monitoring_enabled``."""
        if not self.resource_monitoring_enabled:
            return None
        return float(self.resource_monitoring_interval)

    @hookimpl
    def plait_workflow_finished(self, event: WorkflowFinished) -> None:
        """Complete the ``workflow`` row."""
        self._put(event)

    # -- helpers -----------------------------------------------------------

    def _start_debug_log(self, run_dir: str) -> None:
        handler = logging.FileHandler(os.path.join(run_dir, DEBUG_LOG))
        handler.setLevel(logging.DEBUG)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(name)s %(threadName)s %(levelname)s %(message)s")
        )
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        self._debug_handler = handler

    def _stop_debug_log(self) -> None:
        handler, self._debug_handler = self._debug_handler, None
        if handler is not None:
            logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)
            handler.close()


def _check_number(name: str, value: Any, minimum: float, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < minimum:
        kind = "an integer" if integer else "a number"
        raise ConfigError(name, value, f"{kind} >= {minimum:g}")


def _script_name() -> str:
    """The file name of the script running the workflow, as Parsl names workflows."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return os.path.basename(path) if path else "unnamed"
