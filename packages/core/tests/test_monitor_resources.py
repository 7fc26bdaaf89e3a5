"""Resource samples and node events reach monitors that ask for them."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

import plait
from plait import python_app
from plait.config import Config
from plait.events import NodeChanged, ResourceSample
from plait.executors.threads import ThreadPoolExecutor
from plait.monitoring import Monitor
from plait.plugins import get_plugins, hookimpl

TIMEOUT = 30


@python_app
def burn(seconds: float) -> int:
    """Use a CPU for ``seconds``, in bursts of 10 ms between short sleeps (as most tasks
    let other threads run now and then: the sampler is one); the process id it ran in."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        burst = time.monotonic() + 0.01
        while time.monotonic() < burst:
            pass
        time.sleep(0.005)
    return os.getpid()


class Recorder(Monitor):
    """A monitor that wants samples every ``interval`` seconds and keeps them."""

    plugin_name = "recorder"

    def __init__(self, interval: float | None) -> None:
        self.interval = interval
        self.samples: list[ResourceSample] = []
        self.nodes: list[NodeChanged] = []

    def start(self, run_id: str, run_dir: str, config: Any) -> None:
        self.run_id = run_id

    def resource_interval(self) -> float | None:
        return self.interval

    def close(self) -> None:
        pass

    @hookimpl
    def plait_resource_sampled(self, event: ResourceSample) -> None:
        self.samples.append(event)

    @hookimpl
    def plait_node_changed(self, event: NodeChanged) -> None:
        self.nodes.append(event)


@pytest.mark.timeout(60)
def test_threads_executor_samples_running_tasks(tmp_path) -> None:
    pytest.importorskip("psutil", reason="psutil comes with plait-monitoring")
    recorder = Recorder(interval=0.05)
    executor = ThreadPoolExecutor(max_threads=2)
    with plait.load(Config(executors=[executor], run_dir=str(tmp_path), monitoring=recorder)):
        assert executor.resource_interval == 0.05
        fut = burn(0.5)
        assert fut.result(timeout=TIMEOUT) == os.getpid()
    mine = [s for s in recorder.samples if s.task_id == fut.tid]
    assert len(mine) >= 2, recorder.samples
    first, last = mine[0], mine[-1]
    assert (first.run_id, first.try_id, first.executor, first.interval) == (
        recorder.run_id,
        0,
        "threads",
        0.05,
    )
    assert last.values["pid"] == os.getpid()
    assert last.values["time_user"] + last.values["time_system"] > 0
    assert last.values["memory_resident"] > 0
    assert last.timestamp >= first.timestamp


def test_no_sampling_unless_a_monitor_asks(tmp_path) -> None:
    executor = ThreadPoolExecutor(max_threads=1)
    recorder = Recorder(interval=None)
    with plait.load(Config(executors=[executor], run_dir=str(tmp_path), monitoring=recorder)):
        burn(0.1).result(timeout=TIMEOUT)
        assert executor.resource_interval is None
        assert not any(t.name.endswith("-resources") for t in threading.enumerate())
    assert recorder.samples == []


def test_node_events_reach_observers() -> None:
    """The facade delivers plait_node_changed (HTEX sends them; see its tests)."""
    recorder = Recorder(interval=None)
    plugins = get_plugins()
    plugins.register(recorder, "test-node-recorder")
    try:
        event = NodeChanged("run", "htex", "node1", "m1", "0", 8, 1 << 30, 8, "3.11", True, 1.0)
        plugins.notify_node(event)
    finally:
        plugins.unregister("test-node-recorder")
    assert recorder.nodes == [event]
