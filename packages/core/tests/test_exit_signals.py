"""Exit is bounded and leaves nothing behind: Ctrl-C, unfinished tasks, failed executor start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import plait
from plait.errors import AppTimeout, ExecutorError, NoDataFlowKernelError
from plait.executors.threads import ThreadPoolExecutor

SCRIPT = textwrap.dedent(
    """
    import sys, plait
    from plait import python_app, bash_app, Config, ThreadPoolExecutor

    @bash_app
    def sleeper():
        return "sleep 300"

    @python_app
    def after(x):
        return x

    with plait.load(Config(executors=[ThreadPoolExecutor(max_threads=2)], run_dir=sys.argv[1])):
        futures = [sleeper() for _ in range(2)] + [after(sleeper())]
        print("submitted", flush=True)
        futures[-1].result()
    """
)


def wait_for_line(proc: subprocess.Popen[str], text: str, deadline: float) -> None:
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if text in line:
            return
    raise AssertionError(f"{text!r} not printed in time")


def sleep_processes(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "sleep 300" in line and marker in line]


def test_ctrl_c_cancels_and_exits_promptly_without_leftovers(tmp_path: Path) -> None:
    script = tmp_path / "workflow.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "runinfo")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_line(proc, "submitted", time.monotonic() + 30)
        # both sleepers started (bash's own child `sleep 300` is what would leak)
        deadline = time.monotonic() + 20
        while len([p for p in _children(proc.pid)]) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        children = _children(proc.pid)
        assert len(children) >= 2
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0 and "KeyboardInterrupt" in stderr
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in children if _alive(pid)], "bash commands outlived the workflow"


def _children(pid: int) -> list[int]:
    """Process groups started by ``pid`` (each bash app runs in its own session)."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    return [int(p) for p, pp in (line.split() for line in out.splitlines()) if int(pp) == pid]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = (
        Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}").exists() else "X"
    )
    return state != "Z"


def test_unfinished_tasks_at_interpreter_exit_are_cancelled_with_a_message(tmp_path: Path) -> None:
    script = tmp_path / "forgetful.py"
    script.write_text(
        textwrap.dedent(
            """
        import sys, time, plait
        from plait import python_app, Config, ThreadPoolExecutor

        @python_app
        def slow():
            time.sleep(300)

        plait.load(Config(executors=[ThreadPoolExecutor(max_threads=1)], run_dir=sys.argv[1]))
        futures = [slow() for _ in range(5)]
        print("leaving", flush=True)
        """
        )
    )
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "runinfo")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - start < 30
    assert "leaving" in result.stdout
    assert "5 tasks had not finished at interpreter exit and were cancelled" in result.stderr


class BrokenStart(ThreadPoolExecutor):
    plugin_name = "broken-start"

    def start(self) -> None:
        super().start()
        raise OSError("no such interface: ib0")


def plait_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("plait-")]


def test_executor_that_fails_to_start_leaves_nothing_behind(make_config: Any) -> None:
    before = set(plait_threads())
    good = ThreadPoolExecutor(label="good")
    config = make_config(executors=[good, BrokenStart(label="bad")])
    with pytest.raises(ExecutorError) as info:
        plait.load(config)
    assert "'bad'" in str(info.value) and "no such interface: ib0" in str(info.value)
    with pytest.raises(NoDataFlowKernelError):
        plait.dfk()
    deadline = time.monotonic() + 10
    while set(plait_threads()) - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert set(plait_threads()) - before == set()
    # a fresh load works afterwards
    with plait.load(make_config()):
        assert plait.python_app(lambda: 3)().result(timeout=10) == 3


@plait.bash_app
def long_command() -> str:
    return "sleep 300"


def test_cancel_of_a_running_bash_app_kills_its_command(dfk: Any) -> None:
    fut = long_command()
    deadline = time.monotonic() + 20
    while fut.task_status() != "launched" or not _bash_running(dfk):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert fut.cancel() is True and fut.cancelled()
    from plait.app import bash

    deadline = time.monotonic() + 10
    while bash._running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not bash._running


def _bash_running(dfk: Any) -> bool:
    from plait.app import bash

    return bool(bash._running)


def test_walltime_on_a_bash_app_kills_it_promptly(dfk: Any) -> None:
    @plait.bash_app
    def stuck(walltime: float = 0.5) -> str:
        return "sleep 300"

    start = time.monotonic()
    with pytest.raises(AppTimeout):
        stuck().result(timeout=30)
    assert time.monotonic() - start < 10
