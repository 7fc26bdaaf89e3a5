"""A monitor that keeps every event it sees, for tests of executors and observers."""

from __future__ import annotations

from typing import Any

from plait.events import (
    BlockStateChanged,
    NodeChanged,
    ResourceSample,
    TaskStateChanged,
)
from plait.monitoring import Monitor
from plait.plugins import hookimpl


class RecordingMonitor(Monitor):
    """``Config(monitoring=RecordingMonitor(...))``: every event of the run, in lists.

    An executor plugin's tests can check what it tells monitors (resource samples
    of running tasks, nodes, blocks) without a database.

    :param resource_interval: seconds between resource samples to ask executors for
        (None: ask for none).
    """

    plugin_name = "recording"

    def __init__(self, resource_interval: float | None = None) -> None:
        self.interval = resource_interval
        self.run_id: str | None = None
        self.tasks: list[TaskStateChanged] = []
        self.samples: list[ResourceSample] = []
        self.nodes: list[NodeChanged] = []
        self.blocks: list[BlockStateChanged] = []

    def start(self, run_id: str, run_dir: str, config: Any) -> None:
        """Remember the run, to keep only its events."""
        self.run_id = run_id

    def resource_interval(self) -> float | None:
        """The interval given at construction."""
        return self.interval

    def close(self) -> None:
        """Nothing to flush."""

    @hookimpl
    def plait_task_state_changed(self, event: TaskStateChanged) -> None:
        if event.run_id == self.run_id:
            self.tasks.append(event)

    @hookimpl
    def plait_resource_sampled(self, event: ResourceSample) -> None:
        if event.run_id == self.run_id:
            self.samples.append(event)

    @hookimpl
    def plait_node_changed(self, event: NodeChanged) -> None:
        if event.run_id == self.run_id:
            self.nodes.append(event)

    @hookimpl
    def plait_block_state_changed(self, event: BlockStateChanged) -> None:
        if event.run_id == self.run_id:
            self.blocks.append(event)
