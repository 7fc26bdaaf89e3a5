"""Monitoring: the base class of monitoring hubs, and Parsl's import path for them.

Core keeps no monitoring code of its own. A monitoring plugin (``plait-monitoring``)
registers a :class:`Monitor` subclass through ``plait_register_monitoring``; users
pass an instance as ``Config(monitoring=...)`` or name it in a declarative config
(``[monitoring]`` with ``type = "monitoring"``). ``from plait.monitoring import
MonitoringHub`` resolves through the monitoring registry when the plugin that
provides it is installed, and otherwise raises an ImportError naming the
distribution to install.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from plait.config import Config
    from plait.dataflow.dflow import DataFlowKernel

__all__ = ["Monitor", "progress"]

#: the name a progress display registers under (``Config(progress=True)``)
PROGRESS = "progress"


class Monitor(ABC):
    """What the kernel does with the object given as ``Config(monitoring=...)``.

    For each run the kernel calls :meth:`start`, then registers the object as a
    plugin until the run ends, so its observer hooks
    (``plait_task_state_changed`` and the others, marked with
    :data:`plait.hookimpl`) see that run's events; then it unregisters the object
    and calls :meth:`close`. Registering per run means a workflow without a hub
    pays nothing for monitoring. Other kernels in the same process may be running
    at the same time, so observers compare ``event.run_id`` with the run they
    were started for.

    Subclasses name themselves in ``plugin_name`` and store each ``__init__``
    parameter under an attribute of the same name, like every plugin class.
    """

    plugin_name: ClassVar[str]

    @abstractmethod
    def start(self, run_id: str, run_dir: str, config: Config) -> None:
        """Prepare to record run ``run_id``; called before any of its events.

        Raising here aborts the kernel's start, so raise only for what the user
        must fix first (a database of the wrong schema), and keep it bounded.

        :param run_id: the run's id, also ``event.run_id`` of its events.
        :param run_dir: the run's own directory (``runinfo/000``).
        :param config: the run's Config (``config.run_dir`` is the runs' root).
        """

    def bind(self, kernel: DataFlowKernel) -> None:  # noqa: B027 (optional, no abstract)
        """The kernel of the run just started, for monitors that poll it (progress
        displays call its ``task_counts_by_app()``); called right after :meth:`start`.
        Does nothing unless overridden."""

    def resource_interval(self) -> float | None:
        """Seconds between resource samples of running tries that this monitor wants
        from executors (``plait_resource_sampled``), or None (the default) for none.
        Asked once per run, after :meth:`start` and before executors start."""
        return None

    @abstractmethod
    def close(self) -> None:
        """The run has ended (its ``plait_workflow_finished`` was delivered): finish
        recording, within a bounded time."""


def progress_monitor() -> Monitor:
    """A new progress display from the plugin that registered ``progress``.

    :raises plait.plugins.UnknownPluginError: none did; it names the distribution
        to install (plait-monitoring).
    """
    from plait.plugins import get_plugins

    return get_plugins().lookup("monitoring", PROGRESS)()  # type: ignore[no-any-return]


def progress() -> Monitor:
    """Show a live progress bar of the current workflow's tasks, per app.

    The same as ``Config(progress=True)``, for a workflow already loaded; the bar
    stops when the workflow ends. Quiet when stdout is not a terminal.

    :raises plait.errors.NoDataFlowKernelError: no workflow is loaded.
    :raises plait.plugins.UnknownPluginError: no progress display is installed.
    """
    from plait.dataflow.loader import dfk

    return dfk().add_monitor(progress_monitor())


def __getattr__(name: str) -> Any:
    from plait._lazy_classes import resolve

    return resolve("monitoring", name, __name__)
