"""The ``htex`` entry point: registers the executor, and imports nothing heavy."""

from __future__ import annotations

from typing import Any

import plait


@plait.hookimpl
def plait_register_executors(registry: Any) -> None:
    """``htex``: :class:`~plait_executor_htex.executor.HighThroughputExecutor`."""
    from plait_executor_htex.executor import HighThroughputExecutor

    registry.add(HighThroughputExecutor)
