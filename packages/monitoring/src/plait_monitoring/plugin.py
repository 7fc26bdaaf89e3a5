"""The ``monitoring`` entry point: registers the hub and the ``plait monitoring`` command,
importing nothing heavy (SQLAlchemy is imported only when a hub starts or a command runs)."""

from __future__ import annotations

from typing import Any

import plait


@plait.hookimpl
def plait_register_monitoring(registry: Any) -> None:
    """``monitoring``: :class:`~plait_monitoring.hub.MonitoringHub`; ``progress``:
    :class:`~plait_monitoring.progress.ProgressBar`."""
    from plait_monitoring.hub import MonitoringHub
    from plait_monitoring.progress import ProgressBar

    registry.add(MonitoringHub)
    registry.add(ProgressBar)


@plait.hookimpl
def plait_register_commands(registry: Any) -> None:
    """``plait monitoring``: :class:`~plait_monitoring.cli.MonitoringCommand`."""
    from plait_monitoring.cli import MonitoringCommand

    registry.add(MonitoringCommand)


@plait.hookimpl
def plait_register_benchmarks(registry: Any) -> None:
    """``plait perf --only monitoring`` and ``--only monitoring-100k``:
    :mod:`plait_monitoring.benchmarks`."""
    from plait_monitoring.benchmarks import Monitoring100kBenchmark, MonitoringOverheadBenchmark

    registry.add(MonitoringOverheadBenchmark)
    registry.add(Monitoring100kBenchmark)
