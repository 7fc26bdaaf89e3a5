"""What HTEX tells monitors: resource samples of running tasks (taken by the worker and
sent back over the result channel) and the nodes its managers run on."""

from __future__ import annotations

import os
import socket

import htex_apps
import pytest
from htex_helpers import TASK_TIMEOUT, make_htex

from plait.testing import RecordingMonitor

pytestmark = pytest.mark.timeout(90)


def test_workers_sample_running_tasks_and_managers_report_their_node(htex) -> None:
    pytest.importorskip("psutil", reason="psutil comes with plait-monitoring")
    recorder = RecordingMonitor(resource_interval=0.05)
    loaded = htex(make_htex(), monitoring=recorder)
    assert loaded.executor.resource_interval == 0.05
    fut = htex_apps.spin(0.6)
    worker_pid = fut.result(timeout=TASK_TIMEOUT)
    assert worker_pid != os.getpid()
    mine = [s for s in recorder.samples if s.task_id == fut.tid]
    assert len(mine) >= 2, recorder.samples
    assert {(s.run_id, s.try_id, s.executor, s.interval) for s in mine} == {
        (recorder.run_id, 0, "htex", 0.05)
    }
    last = mine[-1].values
    assert (last["pid"], last["hostname"]) == (worker_pid, socket.gethostname())
    assert last["time_user"] + last["time_system"] > 0 and last["memory_resident"] > 0
    (node,) = recorder.nodes
    assert (node.run_id, node.executor, node.hostname, node.block_id) == (
        recorder.run_id,
        "htex",
        socket.gethostname(),
        "0",
    )
    assert node.active and node.worker_count == 2 and node.uid
    assert node.cpu_count == os.cpu_count() and node.total_memory > 0
    assert node.python_version.count(".") == 1


def test_no_samples_unless_a_monitor_asks(htex) -> None:
    recorder = RecordingMonitor()
    loaded = htex(make_htex(), monitoring=recorder)
    assert htex_apps.spin(0.2).result(timeout=TASK_TIMEOUT)
    assert loaded.executor.resource_interval is None
    assert "--resource-interval" not in loaded.executor.launch_command("0")
    assert recorder.samples == []
