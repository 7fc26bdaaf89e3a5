"""The hub's recorder process: it ends with the run, survives nothing it should not, and a
workflow outlives it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import pytest
from monitoring_helpers import counts, double, query, sqlite_url, threads_config, wait_counts

import plait
from plait.testing import wait_until
from plait_monitoring import MonitoringHub

pytestmark = pytest.mark.timeout(90)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_recorder_ends_with_the_run(runs_root: str) -> None:
    hub = MonitoringHub()
    with plait.load(threads_config(runs_root, hub)) as dfk:
        assert double(2).result(timeout=10) == 4
        recorder = hub.writer
        assert recorder is not None and recorder._process is not None
        process = recorder._process
        assert _alive(process.pid)
    assert process.returncode == 0 and not _alive(process.pid)
    assert hub.writer is None
    assert counts(sqlite_url(runs_root), dfk.run_id)["task"] == 1


def test_a_recorder_that_dies_leaves_the_workflow_running(
    runs_root: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="plait.monitoring")
    hub = MonitoringHub()
    with plait.load(threads_config(runs_root, hub)):
        assert double(1).result(timeout=10) == 2
        assert hub.writer is not None and hub.writer._process is not None
        hub.writer._process.kill()
        hub.writer._process.wait(10)
        futures = [double(i) for i in range(200)]
        assert [f.result(timeout=10) for f in futures] == [2 * i for i in range(200)]
        wait_until(
            lambda: any("recorder" in r.getMessage() for r in caplog.records),
            10,
            what="an error naming the recorder",
        )
    messages = [r.getMessage() for r in caplog.records]
    assert any("has gone" in m or "exited with status" in m for m in messages), messages


def test_a_workflow_process_that_dies_leaves_its_records_written(runs_root: str) -> None:
    """The workflow's process ends without cleaning up (os._exit): the recorder sees its
    stdin close, writes everything it was sent and exits."""
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import plait
        from monitoring_helpers import double, threads_config
        from plait_monitoring import MonitoringHub
        hub = MonitoringHub()
        dfk = plait.load(threads_config({runs_root!r}, hub))
        assert [f.result(timeout=10) for f in [double(i) for i in range(50)]][-1] == 98
        recorder = hub.writer  # send everything now, as the sender would have soon
        recorder._stop.set()
        recorder._sender.join()
        recorder._send_pending()
        print(dfk.run_id, recorder._process.pid, flush=True)
        os._exit(0)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    run_id, pid = out.split()
    wait_until(lambda: not _alive(int(pid)), 30, what="the orphaned recorder to exit")
    url = sqlite_url(runs_root)
    wait_counts(url, run_id, {"task": 50}, timeout=5)
    assert query(
        url,
        "SELECT count(*) FROM task WHERE run_id = :r AND task_status_name = 'exec_done'",
        r=run_id,
    ) == [(50,)]


def test_sqlalchemy_stays_out_of_the_workflows_process(runs_root: str) -> None:
    """Each full GC collection walks every object of every imported module: the hub
    leaves SQLAlchemy and Alembic (some 50,000 objects) to its recorder."""
    script = textwrap.dedent(
        """
        import sys
        import plait
        from plait import Config, ThreadPoolExecutor
        from plait_monitoring import MonitoringHub

        @plait.python_app
        def one():
            return 1

        hub = MonitoringHub(resource_monitoring_enabled=False)
        config = Config(executors=[ThreadPoolExecutor()], run_dir=sys.argv[1], monitoring=hub)
        with plait.load(config) as dfk:
            assert one().result(timeout=10) == 1
            heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("sqlalchemy", "alembic"))
        print(dfk.run_id, heavy)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, runs_root], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    run_id, heavy = done.stdout.split(" ", 1)
    assert heavy.strip() == "[]"
    assert counts(sqlite_url(runs_root), run_id)["task"] == 1
