"""A monitor that keeps every event it sees, and an app that gives it something to
sample, for tests of executors and observers."""

from __future__ import annotations

import os
import time
from typing import Any

from plait.app.app import python_app
from plait.events import (
    BlockStateChanged,
    NodeChanged,
    ResourceSample,
    TaskStateChanged,
)
from plait.monitoring import Monitor
from plait.plugins import hookimpl


@python_app
def burn(seconds: float) -> int:
    """Use a CPU for ``seconds``, in bursts of 10 ms between short sleeps (as most tasks
    let other threads run now and then: the sampler is one); the process id it ran in.
    Importable wherever plait is, so workers of any executor can run it."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        burst = time.monotonic() + 0.01
        while time.monotonic() < burst:
            pass
        time.sleep(0.005)
    return os.getpid()


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
