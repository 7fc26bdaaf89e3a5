"""Resource samples of running tries land in Parsl's ``resource`` table."""

from __future__ import annotations

import os
import socket

import pytest
from monitoring_helpers import query, sqlite_url, threads_config

import plait
from plait.testing import burn
from plait_monitoring import MonitoringHub

pytestmark = pytest.mark.timeout(90)


def test_samples_of_a_threads_run_are_recorded(runs_root: str) -> None:
    url = sqlite_url(runs_root)
    hub = MonitoringHub(resource_monitoring_interval=0.05)
    with plait.load(threads_config(runs_root, hub)) as dfk:
        fut = burn(0.5)
        assert fut.result(timeout=30) == os.getpid()
    rows = query(
        url,
        "SELECT resource_monitoring_interval, psutil_process_pid, psutil_process_time_user, "
        "psutil_process_memory_resident, psutil_process_status FROM resource "
        "WHERE run_id = :r AND task_id = :t AND try_id = 0 ORDER BY timestamp",
        r=dfk.run_id,
        t=fut.tid,
    )
    assert len(rows) >= 2
    interval, pid, cpu, rss, status = rows[-1]
    assert (interval, pid) == (0.05, os.getpid())
    assert cpu > 0 and rss > 0 and status
    (host,) = query(
        url,
        "SELECT hostname FROM try WHERE run_id = :r AND task_id = :t",
        r=dfk.run_id,
        t=fut.tid,
    )
    assert host == (socket.gethostname(),)


def test_resource_monitoring_can_be_turned_off(runs_root: str) -> None:
    url = sqlite_url(runs_root)
    hub = MonitoringHub(resource_monitoring_enabled=False, resource_monitoring_interval=0.05)
    with plait.load(threads_config(runs_root, hub)) as dfk:
        burn(0.3).result(timeout=30)
    assert query(url, "SELECT count(*) FROM resource WHERE run_id = :r", r=dfk.run_id) == [(0,)]


def test_samples_and_nodes_of_an_htex_run_are_recorded(
    runs_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per worker process on HTEX, and one ``node`` row per manager that joined."""
    from plait.config import Config
    from plait_executor_htex import HighThroughputExecutor

    monkeypatch.setenv("PYTHONPATH", os.path.dirname(__file__))  # workers import this module
    url = sqlite_url(runs_root)
    hub = MonitoringHub(resource_monitoring_interval=0.05)
    executor = HighThroughputExecutor(
        max_workers_per_node=1, heartbeat_period=1, heartbeat_threshold=10
    )
    with plait.load(Config(executors=[executor], run_dir=runs_root, monitoring=hub)) as dfk:
        fut = burn(0.5)
        worker = fut.result(timeout=30)
    assert worker != os.getpid()
    pids = query(
        url,
        "SELECT DISTINCT psutil_process_pid FROM resource WHERE run_id = :r AND task_id = :t",
        r=dfk.run_id,
        t=fut.tid,
    )
    assert pids == [(worker,)]
    nodes = query(
        url,
        "SELECT hostname, block_id, worker_count, cpu_count > 0, total_memory > 0 FROM node "
        "WHERE run_id = :r AND active",
        r=dfk.run_id,
    )
    assert nodes == [(socket.gethostname(), "0", 1, 1, 1)]
