"""Resource samples and node events reach monitors that ask for them."""

from __future__ import annotations

import os
import threading

import pytest

import plait
from plait.config import Config
from plait.events import NodeChanged, ResourceSample
from plait.executors.threads import ThreadPoolExecutor
from plait.plugins import get_plugins, hookimpl
from plait.testing import RecordingMonitor, burn

TIMEOUT = 30


@pytest.mark.timeout(60)
def test_threads_executor_samples_running_tasks(tmp_path) -> None:
    pytest.importorskip("psutil", reason="psutil comes with plait-monitoring")
    recorder = RecordingMonitor(resource_interval=0.05)
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
    recorder = RecordingMonitor()
    with plait.load(Config(executors=[executor], run_dir=str(tmp_path), monitoring=recorder)):
        burn(0.1).result(timeout=TIMEOUT)
        assert executor.resource_interval is None
        assert not any(t.name.endswith("-resources") for t in threading.enumerate())
    assert recorder.samples == []


def test_node_events_reach_observers() -> None:
    """The facade delivers plait_node_changed (HTEX sends them; see its tests)."""
    recorder = RecordingMonitor()
    recorder.run_id = "run"
    plugins = get_plugins()
    plugins.register(recorder, "test-node-recorder")
    try:
        event = NodeChanged("run", "htex", "node1", "m1", "0", 8, 1 << 30, 8, "3.11", True, 1.0)
        plugins.notify_node(event)
    finally:
        plugins.unregister("test-node-recorder")
    assert recorder.nodes == [event]


@pytest.mark.timeout(60)
def test_any_observer_plugin_sees_the_samples_a_monitor_asked_for(tmp_path) -> None:
    """plait_resource_sampled is an ordinary observer hook: a plugin that is not the
    monitor gets the samples too (only a monitor decides that there are any)."""
    pytest.importorskip("psutil", reason="psutil comes with plait-monitoring")
    seen: list[int] = []

    class Observer:
        @hookimpl
        def plait_resource_sampled(self, event: ResourceSample) -> None:
            seen.append(event.task_id)

    plugins = get_plugins()
    plugins.register(Observer(), "test-sample-observer")
    try:
        config = Config(
            executors=[ThreadPoolExecutor(max_threads=1)],
            run_dir=str(tmp_path),
            monitoring=RecordingMonitor(resource_interval=0.05),
        )
        with plait.load(config):
            fut = burn(0.4)
            fut.result(timeout=TIMEOUT)
    finally:
        plugins.unregister("test-sample-observer")
    assert fut.tid in seen
