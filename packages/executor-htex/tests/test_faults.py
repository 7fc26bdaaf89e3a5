"""Faults: workers, managers, the interchange and the submitting process killed with SIGKILL."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import htex_apps
import pytest
from htex_helpers import (
    HB_THRESHOLD,
    MARGIN,
    TASK_TIMEOUT,
    TESTS_DIR,
    ProcessWatch,
    cleanup_within,
    wait_gone,
    wait_pid_file,
)

from plait.errors import ExecutorError
from plait.testing import process_alive, wait_until
from plait_executor_htex import InterchangeLost, ManagerLost, WorkerLost

#: a fault must be reported within this many seconds of the kill
DETECT = HB_THRESHOLD + MARGIN


def _wait_failed(fut, timeout: float = DETECT) -> BaseException:
    """The exception ``fut`` fails with, within ``timeout`` seconds."""
    wait_until(fut.done, timeout, what="the task to fail")
    exc = fut.exception(timeout=0)
    assert exc is not None, f"the task succeeded: {fut.result()!r}"
    return exc


# ---------------------------------------------------------------------------
# (a) a worker dies
# ---------------------------------------------------------------------------


def test_killed_worker_fails_its_task_with_worker_lost(htex, tmp_path: Path) -> None:
    loaded = htex()
    old = loaded.worker_pids("0", count=2)
    pid_file = tmp_path / "pid"
    fut = htex_apps.pid_then_sleep(str(pid_file), 300)
    worker = wait_pid_file(pid_file)
    assert worker in old
    began = time.monotonic()
    os.kill(worker, signal.SIGKILL)
    exc = _wait_failed(fut)
    took = time.monotonic() - began
    assert isinstance(exc, WorkerLost), repr(exc)
    message = str(exc)
    assert "signal 9" in message
    assert socket.gethostname() in message
    assert "block 0" in message
    assert exc.exitcode == -signal.SIGKILL
    assert exc.block_id == "0"
    assert exc.hostname == socket.gethostname()
    assert took < 5, f"WorkerLost took {took:.1f} s"
    # the worker was replaced and the executor keeps serving
    wait_until(
        lambda: worker not in loaded.worker_pids("0", count=2), 5, what="a replacement worker"
    )
    results = [htex_apps.worker_identity() for _ in range(4)]
    assert worker not in {f.result(timeout=TASK_TIMEOUT)["pid"] for f in results}


def test_worker_lost_task_succeeds_on_retry(htex, tmp_path: Path) -> None:
    """With retries=1, a task whose worker dies (it SIGKILLs itself the first time, a
    marker file stops the second try from doing so) succeeds on the retry."""
    htex(retries=1)
    marker = tmp_path / "first-try"
    fut = htex_apps.kill_self_once(str(marker))
    result = fut.result(timeout=TASK_TIMEOUT)
    first_pid = int(marker.read_text())
    assert result.startswith("survived in ")
    assert int(result.split()[-1]) != first_pid, "the retry ran in the dead worker's pid"
    assert fut.task_record.fail_count == 1
    assert "WorkerLost" in fut.task_record.fail_history[0]
    assert "signal 9" in fut.task_record.fail_history[0]


def test_worker_lost_without_retries_is_final(htex, tmp_path: Path) -> None:
    htex()
    marker = tmp_path / "first-try"
    with pytest.raises(WorkerLost, match="signal 9"):
        htex_apps.kill_self_once(str(marker)).result(timeout=TASK_TIMEOUT)
    assert marker.exists()
    assert htex_apps.add(1, 1).result(timeout=TASK_TIMEOUT) == 2


# ---------------------------------------------------------------------------
# (b) a manager dies
# ---------------------------------------------------------------------------


def test_killed_manager_fails_its_tasks_with_manager_lost(htex, tmp_path: Path) -> None:
    loaded = htex(strategy_period=0.5)
    manager = loaded.manager_pid("0")
    workers = loaded.worker_pids("0", count=2)
    release = tmp_path / "release"
    futures = [htex_apps.blocker(str(tmp_path / f"pid-{i}"), str(release)) for i in range(2)]
    assert sorted(wait_pid_file(tmp_path / f"pid-{i}") for i in range(2)) == sorted(workers)
    began = time.monotonic()
    os.kill(manager, signal.SIGKILL)
    errors = [_wait_failed(f) for f in futures]
    took = time.monotonic() - began
    for exc in errors:
        assert isinstance(exc, ManagerLost), repr(exc)
        message = str(exc)
        assert socket.gethostname() in message
        assert "block 0" in message
        assert exc.block_id == "0"
        assert exc.silent_for > HB_THRESHOLD
    assert took < DETECT, f"ManagerLost after {took:.1f} s"
    # once their tasks end, the orphaned workers notice their manager is gone and exit
    release.write_text("go")
    wait_gone(workers, 5, what="the dead manager's workers to exit")
    # a new block takes over for new work
    assert htex_apps.add(20, 22).result(timeout=TASK_TIMEOUT) == 42
    assert len(loaded.executor.blocks) == 2


def test_killed_manager_workers_do_not_outlive_it(htex, tmp_path: Path) -> None:
    loaded = htex()
    manager = loaded.manager_pid("0")
    workers = loaded.worker_pids("0", count=2)
    futures = [htex_apps.pid_then_sleep(str(tmp_path / f"pid-{i}"), 300) for i in range(2)]
    for i in range(2):
        wait_pid_file(tmp_path / f"pid-{i}")
    try:
        os.kill(manager, signal.SIGKILL)
        for fut in futures:
            assert isinstance(_wait_failed(fut), ManagerLost)
        wait_gone(workers, DETECT, what=f"the dead manager's busy workers {workers} to exit")
    finally:
        for pid in workers:  # whatever happened, leave nothing behind for other tests
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------------------
# (c) the interchange dies
# ---------------------------------------------------------------------------


def test_killed_interchange_fails_every_task_with_interchange_lost(
    htex, tmp_path: Path, process_watch: ProcessWatch
) -> None:
    loaded = htex()
    interchange = loaded.interchange_pid
    running = [htex_apps.pid_then_sleep(str(tmp_path / f"pid-{i}"), 300) for i in range(2)]
    for i in range(2):
        wait_pid_file(tmp_path / f"pid-{i}")
    queued = [htex_apps.add(i, 0) for i in range(5)]
    began = time.monotonic()
    os.kill(interchange, signal.SIGKILL)
    errors = [_wait_failed(f) for f in (*running, *queued)]
    took = time.monotonic() - began
    for exc in errors:
        assert isinstance(exc, InterchangeLost), repr(exc)
        assert "status -9" in str(exc)
        assert str(interchange) in str(exc)
    assert took < DETECT, f"InterchangeLost after {took:.1f} s"
    # new tasks fail at once, with the same explanation
    with pytest.raises(ExecutorError, match="status -9"):
        htex_apps.add(1, 1).result(timeout=TASK_TIMEOUT)
    # cleanup is prompt, and stops the orphaned manager and workers
    assert cleanup_within(loaded.dfk) < 10
    assert not process_alive(interchange)


# ---------------------------------------------------------------------------
# (d) the submitting process dies
# ---------------------------------------------------------------------------

_WORKFLOW = """
import json, sys, time
sys.path.insert(0, {tests_dir!r})
import plait
from plait import Config
import htex_apps
from htex_helpers import Loaded, make_htex, wait_pid_file
from pathlib import Path

executor = make_htex()
dfk = plait.load(Config(executors=[executor], run_dir={run_dir!r}))
loaded = Loaded(dfk, executor)
fut = htex_apps.pid_then_sleep({pid_file!r}, 300)
running = wait_pid_file(Path({pid_file!r}))
print(json.dumps({{
    "interchange": loaded.interchange_pid,
    "block": loaded.block_pid("0"),
    "manager": loaded.manager_pid("0"),
    "workers": loaded.worker_pids("0", count=2),
    "running": running,
}}), flush=True)
fut.result()  # never returns: the test kills this process
"""


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        proc.kill()
        raise AssertionError(f"the workflow printed nothing within {timeout:g} s")
    return proc.stdout.readline()


def test_killed_submitting_process_leaves_nothing_running(
    tmp_path: Path, process_watch: ProcessWatch
) -> None:
    script = tmp_path / "workflow.py"
    script.write_text(
        textwrap.dedent(_WORKFLOW).format(
            tests_dir=str(TESTS_DIR),
            run_dir=str(tmp_path / "runinfo"),
            pid_file=str(tmp_path / "pid"),
        )
    )
    with open(tmp_path / "workflow.stderr", "w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    try:
        line = _read_line(proc, TASK_TIMEOUT)
        assert line, (tmp_path / "workflow.stderr").read_text()
        pids = json.loads(line)
        everything = [
            pids["interchange"],
            pids["block"],
            pids["manager"],
            *pids["workers"],
        ]
        for pid in everything:
            process_watch.learn(pid)
        assert pids["running"] in pids["workers"]
        assert all(process_alive(p) for p in everything)
        began = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
        for name in ("interchange", "manager"):
            wait_gone([pids[name]], DETECT, what=f"the {name} ({pids[name]}) to exit")
        wait_gone(pids["workers"], DETECT, what=f"the workers {pids['workers']} to exit")
        wait_gone([pids["block"]], DETECT, what="the block's script to exit")
        took = time.monotonic() - began
        assert took < DETECT, f"processes outlived the workflow by {took:.1f} s"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        survivors = process_watch.survivors()
        for p in survivors:  # do not leak into other tests, whatever happened
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert not survivors, f"left running: {survivors}"


# ---------------------------------------------------------------------------
# hung (SIGSTOPped) peers: only heartbeats can tell
# ---------------------------------------------------------------------------


def test_hung_manager_is_dropped_and_exits_once_resumed(htex, tmp_path: Path) -> None:
    """A stopped manager sends no heartbeat: its tasks fail with ManagerLost; resumed, it
    finds the interchange no longer answers it and exits by itself, with its workers."""
    loaded = htex()
    manager = loaded.manager_pid("0")
    workers = loaded.worker_pids("0", count=2)
    release = tmp_path / "release"
    futures = [htex_apps.blocker(str(tmp_path / f"pid-{i}"), str(release)) for i in range(2)]
    for i in range(2):
        wait_pid_file(tmp_path / f"pid-{i}")
    os.kill(manager, signal.SIGSTOP)
    try:
        began = time.monotonic()
        for fut in futures:
            exc = _wait_failed(fut)
            assert isinstance(exc, ManagerLost), repr(exc)
            assert "block 0" in str(exc)
        assert time.monotonic() - began < DETECT
    finally:
        os.kill(manager, signal.SIGCONT)
    release.write_text("go")
    wait_gone([manager, *workers], DETECT, what="the dropped manager and its workers to exit")


def test_hung_interchange_is_detected_by_heartbeat(htex, tmp_path: Path) -> None:
    """A stopped interchange is alive but silent: outstanding tasks fail with
    InterchangeLost naming the silence, managers exit by themselves, cleanup is bounded."""
    loaded = htex()
    interchange = loaded.interchange_pid
    manager = loaded.manager_pid("0")
    fut = htex_apps.pid_then_sleep(str(tmp_path / "pid"), 300)
    wait_pid_file(tmp_path / "pid")
    os.kill(interchange, signal.SIGSTOP)
    try:
        began = time.monotonic()
        exc = _wait_failed(fut)
        assert isinstance(exc, InterchangeLost), repr(exc)
        assert "heartbeat_threshold" in str(exc)
        assert str(interchange) in str(exc)
        assert time.monotonic() - began < DETECT
        # the manager hears nothing either, and leaves with its workers
        wait_gone([manager], DETECT, what="the manager to give up on the interchange")
        # bounded, though slow: shutdown waits 5 s for the interchange, then 2 s more
        cleanup_within(loaded.dfk)
    finally:
        if process_alive(interchange):
            os.kill(interchange, signal.SIGCONT)
