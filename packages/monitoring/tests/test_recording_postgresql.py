"""Runs recorded in a real PostgreSQL server: nothing lost while the server is down mid-run,
and two workflows writing one database at once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from monitoring_helpers import (
    STATUSES_PER_TASK,
    add,
    counts,
    double,
    fail,
    query,
    record_at_once,
    threads_config,
    wait_counts,
)

import plait
from plait.testing import wait_until
from plait_monitoring import MonitoringHub
from plait_monitoring.pgserver import PostgresServer

pytestmark = pytest.mark.timeout(120)


def test_a_run_is_recorded_in_postgresql(runs_root: str, postgres_url: str) -> None:
    hub = MonitoringHub(db_url=postgres_url, workflow_name="pg")
    with plait.load(threads_config(runs_root, hub, retries=1)) as dfk:
        assert add(double(1), double(2)).result(timeout=10) == 6
        assert isinstance(fail("bad input").exception(timeout=10), ValueError)
    assert counts(postgres_url, dfk.run_id) == {"task": 4, "try": 5, "status": 19, "block": 0}
    assert query(
        postgres_url,
        "SELECT workflow_name, tasks_completed_count, tasks_failed_count FROM workflow",
    ) == [("pg", 3, 1)]
    assert query(
        postgres_url,
        "SELECT task_fail_count, task_error FROM task WHERE task_func_name = 'fail'",
    ) == [(2, "ValueError: bad input")]


def test_a_server_down_mid_run_loses_nothing(
    runs_root: str,
    postgres_url: str,
    postgres_server: PostgresServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="plait.monitoring")
    hub = MonitoringHub(db_url=postgres_url)
    with plait.load(threads_config(runs_root, hub)) as dfk:
        assert [f.result(timeout=10) for f in [double(i) for i in range(20)]][-1] == 38
        wait_counts(postgres_url, dfk.run_id, {"task": 20}, timeout=5)
        postgres_server.stop("fast")
        try:
            assert [f.result(timeout=10) for f in [double(i) for i in range(200)]][-1] == 398
            writer = hub.writer
            assert writer is not None
            wait_until(lambda: writer.outage_since is not None, 10, what="the writer to notice")
        finally:
            postgres_server.start()
        wait_counts(postgres_url, dfk.run_id, {"task": 220, "try": 220}, timeout=20)
    assert counts(postgres_url, dfk.run_id) == {
        "task": 220,
        "try": 220,
        "status": 220 * STATUSES_PER_TASK,
        "block": 0,
    }
    messages = [r.getMessage() for r in caplog.records]
    assert any("cannot write to" in m for m in messages)
    assert any("takes records again" in m for m in messages)


def test_a_run_that_starts_while_the_server_is_down_is_recorded_when_it_is_up(
    runs_root: str, postgres_url: str, postgres_server: PostgresServer
) -> None:
    """The schema cannot be checked at start: the run goes on, and the writer creates
    the schema and writes everything once the server is reachable."""
    postgres_server.stop("fast")
    try:
        with plait.load(threads_config(runs_root, MonitoringHub(db_url=postgres_url))) as dfk:
            assert [f.result(timeout=10) for f in [double(i) for i in range(30)]][-1] == 58
            postgres_server.start()
            wait_counts(postgres_url, dfk.run_id, {"task": 30, "try": 30}, timeout=20)
    finally:
        if not postgres_server.running():
            postgres_server.start()
    assert counts(postgres_url, dfk.run_id)["status"] == 30 * STATUSES_PER_TASK


def test_two_workflows_write_one_database_at_once(tmp_path: Path, postgres_url: str) -> None:
    run_ids = record_at_once(postgres_url, [tmp_path / "r0", tmp_path / "r1"], 400, timeout=90)
    for run_id in run_ids:
        assert counts(postgres_url, run_id) == {
            "task": 400,
            "try": 400,
            "status": 400 * STATUSES_PER_TASK,
            "block": 0,
        }
    finished = "SELECT count(*) FROM workflow WHERE time_completed IS NOT NULL"
    assert query(postgres_url, finished) == [(2,)]
