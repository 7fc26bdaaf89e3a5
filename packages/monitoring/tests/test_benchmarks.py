"""``plait perf --only monitoring`` and ``--only monitoring-100k``, run small: what they
report and that every row arrived (never how fast: that is the benchmarks' job)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from plait.perf import list_benchmarks
from plait.plugins import get_plugins
from plait.testing import wait_until
from plait.testing.processes import descendants
from plait_monitoring.benchmarks import Monitoring100kBenchmark, MonitoringOverheadBenchmark

pytestmark = pytest.mark.timeout(240)

STATES = {"pending", "launched", "running", "exec_done"}


def assert_nothing_left(before: set[int]) -> None:
    """No process started since ``before`` is alive, and no web server thread."""
    wait_until(lambda: not set(descendants(os.getpid())) - before, 10, what="processes to exit")
    assert not [t for t in threading.enumerate() if t.name == "plait-monitoring-web"]


def test_both_are_registered_and_listed() -> None:
    benchmarks = get_plugins().benchmarks
    assert benchmarks.get("monitoring") is MonitoringOverheadBenchmark
    assert benchmarks.get("monitoring-100k") is Monitoring100kBenchmark
    listed = list_benchmarks()
    assert "monitoring " in listed and "monitoring-100k " in listed


def test_sizes_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAIT_PERF_MONITORING_N_THREADS", "300")
    monkeypatch.setenv("PLAIT_PERF_MONITORING_ROUNDS", "2")
    monkeypatch.setenv("PLAIT_PERF_MONITORING_EXECUTORS", "threads")
    monkeypatch.setenv("PLAIT_PERF_MONITORING_100K_N", "400")
    overhead = MonitoringOverheadBenchmark(n_htex=7)
    assert (overhead.n, overhead.rounds, overhead.executors) == (
        {"threads": 300, "htex": 7},
        2,
        ("threads",),
    )
    assert Monitoring100kBenchmark().n == 400
    assert Monitoring100kBenchmark(n=5).n == 5


def test_overhead_on_threads_and_htex_records_every_row(tmp_path: Path) -> None:
    before = set(descendants(os.getpid()))
    benchmark = MonitoringOverheadBenchmark(n_threads=200, n_htex=200, rounds=2, warmup=20)
    figures = benchmark.run(str(tmp_path))
    assert figures["monitoring_executors"] == ["threads", "htex"]
    for ex in ("threads", "htex"):
        assert figures[f"monitoring_{ex}_n"] == 200
        for key in ("off_tasks_per_s", "on_tasks_per_s", "off_exit_s", "on_exit_s"):
            assert figures[f"monitoring_{ex}_{key}"] > 0, key
        assert isinstance(figures[f"monitoring_{ex}_overhead_pct"], float)
        assert figures[f"monitoring_{ex}_rows_complete"] is True
        rounds = figures[f"monitoring_{ex}_rounds"]
        assert [r["monitoring"] for r in rounds] == [False, True, False, True]
        for r in rounds:
            if not r["monitoring"]:
                assert "task_rows" not in r
                continue
            assert (r["task_rows"], r["try_rows"], r["task_ids_missing"]) == (220, 220, 0)
            assert set(r["status_by_state"]) >= {"pending", "launched", "exec_done"}
            assert all(count == 220 for count in r["status_by_state"].values())
    threads_round = figures["monitoring_threads_rounds"][1]
    assert set(threads_round["status_by_state"]) == STATES  # threads reports `running`
    assert threads_round["status_rows"] == 4 * 220
    assert figures["monitoring_threads_status_rows_per_task"] == 4
    assert_nothing_left(before)


def test_an_executor_that_is_not_installed_is_skipped(tmp_path: Path) -> None:
    figures = MonitoringOverheadBenchmark(
        n_threads=50, rounds=1, warmup=0, executors=("threads", "no-such-executor")
    ).run(str(tmp_path))
    assert figures["monitoring_executors"] == ["threads"]
    assert "no-such-executor" in figures["monitoring_no-such-executor_skipped"]
    assert figures["monitoring_threads_rows_complete"] is True


def test_100k_checks_every_task_id_and_times_the_workflow_page(tmp_path: Path) -> None:
    before = set(descendants(os.getpid()))
    figures = Monitoring100kBenchmark(n=200, fetches=2).run(str(tmp_path))
    assert figures["monitoring_100k_n"] == 200
    assert figures["monitoring_100k_tasks_per_s"] > 0
    assert figures["monitoring_100k_exit_s"] > 0
    assert figures["monitoring_100k_task_rows"] == 200
    assert figures["monitoring_100k_task_ids_missing"] == 0
    assert figures["monitoring_100k_status_by_state"] == dict.fromkeys(STATES, 200)
    assert figures["monitoring_100k_rows_complete"] is True
    endpoints = figures["monitoring_100k_endpoint_ms"]
    assert set(endpoints) == {"gantt", "timeline", "dag?color=state"}
    assert all(ms > 0 for ms in endpoints.values())
    assert figures["monitoring_100k_slowest_endpoint"] in endpoints
    assert figures["monitoring_100k_page_ms"] > 0 and figures["monitoring_100k_page_first_ms"] > 0
    assert figures["monitoring_100k_total_ms"] >= figures["monitoring_100k_slowest_endpoint_ms"]
    assert (tmp_path / "monitoring.db").exists()
    assert_nothing_left(before)
