"""A run recorded in SQLite: Parsl's rows, while it runs, and nothing lost while the file is
locked, or still locked when the run ends."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
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
    sqlite_url,
    threads_config,
    wait_counts,
    wait_for,
)

import plait
from plait.cli import main as plait_main
from plait.testing import wait_until
from plait_monitoring import MonitoringHub
from plait_monitoring.hub import SPILL_FILE

pytestmark = pytest.mark.timeout(90)


def test_a_run_is_recorded_in_parsl_tables(runs_root: str) -> None:
    url = sqlite_url(runs_root)
    hub = MonitoringHub(workflow_name="wf", workflow_version="7")
    with plait.load(threads_config(runs_root, hub, retries=1)) as dfk:
        assert add(double(1), double(2)).result(timeout=10) == 6
        assert isinstance(fail("bad input").exception(timeout=10), ValueError)
        dependent = add(fail("root cause"), 1)
        assert isinstance(dependent.exception(timeout=10), plait.errors.DependencyError)
    run = dfk.run_id
    assert counts(url, run)["task"] == 6
    (workflow,) = query(
        url,
        "SELECT workflow_name, workflow_version, host, rundir, time_completed IS NOT NULL, "
        "tasks_completed_count, tasks_failed_count FROM workflow WHERE run_id = :r",
        r=run,
    )
    assert workflow[:2] == ("wf", "7") and workflow[3] == dfk.run_dir
    assert workflow[4:] == (1, 3, 2)
    states = query(
        url,
        "SELECT task_id, task_status_name FROM status WHERE run_id = :r ORDER BY task_id, "
        "timestamp",
        r=run,
    )
    by_task: dict[int, list[str]] = {}
    for task_id, state in states:
        by_task.setdefault(task_id, []).append(state)
    assert by_task[0] == ["pending", "launched", "running", "exec_done"]
    assert by_task[2] == ["pending", "launched", "running", "exec_done"]  # waited on 0 and 1
    assert by_task[3] == [
        "pending",
        "launched",
        "running",
        "fail_retryable",
        "launched",
        "running",
        "failed",
    ]
    assert by_task[5] == ["pending", "dep_fail"]
    tasks = {
        row[0]: row[1:]
        for row in query(
            url,
            "SELECT task_id, task_func_name, task_depends, task_fail_count, task_status_name, "
            "task_error, task_time_returned IS NOT NULL FROM task WHERE run_id = :r",
            r=run,
        )
    }
    assert tasks[2] == ("add", "0,1", 0, "exec_done", None, 1)
    assert tasks[3] == ("fail", None, 2, "failed", "ValueError: bad input", 1)
    assert tasks[5][0] == "add" and tasks[5][3] == "dep_fail"
    assert "task 4 (fail) failed with ValueError: root cause" in tasks[5][4]
    tries = query(
        url,
        "SELECT try_id, task_executor, task_try_time_launched <= task_try_time_returned, "
        "task_fail_history FROM try WHERE run_id = :r AND task_id = 3 ORDER BY try_id",
        r=run,
    )
    assert tries == [(0, "threads", 1, None), (1, "threads", 1, "ValueError: bad input")]
    assert query(url, "SELECT count(*) FROM try WHERE run_id = :r AND task_id = 5", r=run) == [
        (0,)
    ]  # a dep_fail task never ran


def test_rows_arrive_while_the_run_runs(runs_root: str) -> None:
    url = sqlite_url(runs_root)
    gate = threading.Event()
    with plait.load(threads_config(runs_root, MonitoringHub())) as dfk:
        blocked = wait_for(gate)
        wait_until(
            lambda: (
                query(url, "SELECT task_status_name FROM task WHERE run_id = :r", r=dfk.run_id)
                == [("running",)]
            ),
            timeout=2.0,
            what="the running task's row",
        )
        gate.set()
        assert blocked.result(timeout=10) is True
        wait_until(
            lambda: (
                query(url, "SELECT task_status_name FROM task WHERE run_id = :r", r=dfk.run_id)
                == [("exec_done",)]
            ),
            timeout=2.0,
            what="the finished task's row",
        )


def test_a_burst_beyond_the_bound_waits_in_memory_while_the_database_takes_records(
    runs_root: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The bound is for outages: a burst of 600 records with room for 100 in an outage
    waits in memory for a database that is only slower than the burst (no spill file, no
    warning), and all of it is written."""
    caplog.set_level(logging.WARNING, logger="plait.monitoring")
    url = sqlite_url(runs_root)
    hub = MonitoringHub(max_buffered_records=100)
    with plait.load(threads_config(runs_root, hub)) as dfk:
        assert [f.result(timeout=10) for f in [double(i) for i in range(100)]] == [
            2 * i for i in range(100)
        ]
    assert counts(url, dfk.run_id)["status"] == 100 * STATUSES_PER_TASK
    assert not [r.getMessage() for r in caplog.records], "no spill, no outage"


def test_a_locked_database_loses_nothing(runs_root: str, caplog: pytest.LogCaptureFixture) -> None:
    """Another connection holds the file's write lock mid-run: tasks go on at full speed,
    records wait in memory and in the spill file past the bound, and every one is written
    once the lock is released, with a warning at each end of the outage."""
    caplog.set_level(logging.WARNING, logger="plait.monitoring")
    url = sqlite_url(runs_root)
    hub = MonitoringHub(max_buffered_records=100)
    with plait.load(threads_config(runs_root, hub)) as dfk:
        assert [f.result(timeout=10) for f in [double(i) for i in range(20)]] == [
            2 * i for i in range(20)
        ]
        wait_counts(url, dfk.run_id, {"task": 20}, timeout=5)
        locker = sqlite3.connect(os.path.join(runs_root, "monitoring.db"), isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            more = [double(i) for i in range(300)]
            assert [f.result(timeout=10) for f in more] == [2 * i for i in range(300)]
            writer = hub.writer
            assert writer is not None
            wait_until(lambda: writer.outage_since is not None, 5, what="the writer to notice")
            spill = os.path.join(dfk.run_dir, SPILL_FILE)
            wait_until(lambda: os.path.exists(spill), 5, what="records spilled to a file")
            # the run has finished its tasks, yet the database has none of the new ones
            assert counts(url, dfk.run_id)["task"] == 20
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        wait_counts(url, dfk.run_id, {"task": 320, "try": 320}, timeout=10)
        wait_until(lambda: not os.path.exists(spill), 5, what="the spill file to be consumed")
    assert counts(url, dfk.run_id) == {
        "task": 320,
        "try": 320,
        "status": 320 * STATUSES_PER_TASK,
        "block": 0,
    }
    messages = [r.getMessage() for r in caplog.records]
    assert any("cannot write to" in m and "database is locked" in m for m in messages)
    assert any("keeping the oldest in" in m and SPILL_FILE in m for m in messages)
    assert any("takes records again" in m for m in messages)


def test_records_of_a_run_that_ends_while_locked_are_kept_and_replayed(
    runs_root: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.WARNING, logger="plait.monitoring")
    url = sqlite_url(runs_root)
    with plait.load(threads_config(runs_root, MonitoringHub())) as dfk:
        assert double(0).result(timeout=10) == 0
        wait_counts(url, dfk.run_id, {"task": 1}, timeout=5)
    locker = sqlite3.connect(os.path.join(runs_root, "monitoring.db"), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        hub = MonitoringHub(exit_timeout=0.5)
        with plait.load(threads_config(runs_root, hub)) as dfk:
            assert [f.result(timeout=10) for f in [double(i) for i in range(50)]][-1] == 98
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    spill = os.path.join(dfk.run_dir, SPILL_FILE)
    assert os.path.exists(spill) and counts(url, dfk.run_id)["task"] == 0
    warning = next(
        r.getMessage() for r in caplog.records if "could not be written" in r.getMessage()
    )
    assert f"plait monitoring replay {spill} --db {url}" in warning
    assert plait_main(["monitoring", "replay", spill, "--db", url]) == 0
    assert "wrote" in capsys.readouterr().out
    assert not os.path.exists(spill)
    assert counts(url, dfk.run_id) == {
        "task": 50,
        "try": 50,
        "status": 50 * STATUSES_PER_TASK,
        "block": 0,
    }
    (completed,) = query(
        url, "SELECT tasks_completed_count FROM workflow WHERE run_id = :r", r=dfk.run_id
    )
    assert completed == (50,)


def test_two_workflows_write_one_sqlite_file_at_once(tmp_path: Path) -> None:
    url = sqlite_url(str(tmp_path / "shared"))
    roots = [tmp_path / "r0", tmp_path / "r1"]
    for run_id in record_at_once(url, roots, tasks=400, timeout=60):
        assert counts(url, run_id) == {
            "task": 400,
            "try": 400,
            "status": 400 * STATUSES_PER_TASK,
            "block": 0,
        }
    for root in roots:
        (log,) = root.glob("*/plait.log")
        problems = [
            line
            for line in log.read_text().splitlines()
            if "plait.monitoring" in line and (" WARNING " in line or " ERROR " in line)
        ]
        assert problems == []  # no outage, no refused record
