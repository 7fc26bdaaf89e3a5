"""``plait monitoring summary``: counts by app and state, slowest tries, failures with causes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from monitoring_helpers import add, double, fail, sqlite_url, threads_config

import plait
from plait.cli import main as plait_main
from plait_monitoring import MonitoringHub
from plait_monitoring.db.engine import parse_url
from plait_monitoring.summary import load_summary

pytestmark = pytest.mark.timeout(60)


def _run(runs_root: str, url: str | None = None) -> str:
    hub = MonitoringHub(db_url=url, workflow_name="summarized", workflow_version="v1")
    with plait.load(threads_config(runs_root, hub)) as dfk:
        assert [f.result(timeout=10) for f in [double(i) for i in range(5)]][-1] == 8
        root = fail("disk full")
        assert isinstance(add(root, 1).exception(timeout=10), plait.errors.DependencyError)
    return dfk.run_id


def test_summary_of_the_latest_run(runs_root: str, capsys: pytest.CaptureFixture[str]) -> None:
    _run(runs_root)
    run_id = _run(runs_root)
    assert plait_main(["monitoring", "summary", "--db", sqlite_url(runs_root)]) == 0
    out = capsys.readouterr().out
    assert f"workflow summarized v1  (run {run_id})" in out and "ended after" in out
    lines = out.splitlines()
    header = lines.index("tasks by app and state") + 1
    assert lines[header].split() == ["app", "exec_done", "failed", "dep_fail", "total"]
    assert lines[header + 1].split() == ["add", "0", "0", "1", "1"]
    assert lines[header + 2].split() == ["double", "5", "0", "0", "5"]
    assert lines[header + 3].split() == ["fail", "0", "1", "0", "1"]
    assert lines[header + 4].split() == ["all", "5", "1", "1", "7"]
    failures = lines[lines.index("failures (2 of 2 shown)") + 1 :]
    assert failures[0] == "  task 5 fail failed: ValueError: disk full"
    assert failures[1].startswith("  task 6 add dep_fail: DependencyError:")
    assert "task 5 (fail) failed with ValueError: disk full" in failures[1]


def test_summary_picks_a_run_and_limits_rows(runs_root: str) -> None:
    first = _run(runs_root)
    _run(runs_root)
    summary = load_summary(parse_url(sqlite_url(runs_root)), run_id=first[:8], limit=2)
    assert summary.workflow["run_id"] == first
    assert len(summary.slowest) == 2 and summary.slowest[0].seconds >= summary.slowest[1].seconds
    assert len(summary.failures) == 2 and summary.failure_count == 2
    assert summary.counts["double"] == {"exec_done": 5}


def test_summary_from_postgresql(runs_root: str, postgres_url: str) -> None:
    run_id = _run(runs_root, postgres_url)
    summary = load_summary(parse_url(postgres_url))
    assert summary.workflow["run_id"] == run_id
    assert summary.counts["fail"] == {"failed": 1}
    assert all(s.seconds >= 0 for s in summary.slowest)


def test_summary_errors_say_what_is_wrong(tmp_path: Path) -> None:
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "plait",
            "monitoring",
            "summary",
            "--db",
            f"sqlite:///{tmp_path}/x.db",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert missing.returncode == 1
    assert "there is no monitoring database at" in missing.stderr
    default = subprocess.run(
        [sys.executable, "-m", "plait", "monitoring", "summary"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert default.returncode == 1 and f"{tmp_path}/runinfo/monitoring.db" in default.stderr
    assert plait_main(["monitoring", "summary", "--db", "mysql://x/y"]) == 1
