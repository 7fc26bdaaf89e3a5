"""HTEX passes plait's executor contract, on blocks that LocalProvider + SimpleLauncher start."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import htex_apps
import pytest
from htex_helpers import (
    TASK_TIMEOUT,
    ProcessWatch,
    assert_no_survivors,
    children,
    cmdline,
    make_htex,
)

from plait.executors.base import Executor
from plait.launchers.simple import SimpleLauncher
from plait.providers.base import JobState
from plait.providers.local import LocalProvider
from plait.testing import ExecutorContract, process_alive, wait_until
from plait_executor_htex import HighThroughputExecutor


class TestHighThroughputExecutorContract(ExecutorContract):
    timeout = TASK_TIMEOUT
    shutdown_timeout = 10.0

    @pytest.fixture
    def executor(self, process_watch: ProcessWatch) -> Iterator[Executor]:
        executor = make_htex(label="contract-htex")
        yield executor
        # the suite shuts it down (or never started it); nothing may be left
        executor.shutdown()
        assert_no_survivors(process_watch)


def test_plugin_is_registered_as_htex() -> None:
    from plait.plugins import Plugins

    assert Plugins().lookup("executor", "htex") is HighThroughputExecutor


def test_local_provider_simple_launcher_runs_one_manager_per_block(htex) -> None:
    """Block 0 is one bash script (LocalProvider) running the manager command unchanged
    (SimpleLauncher); the manager starts exactly max_workers_per_node workers, and the
    tasks run in those workers."""
    loaded = htex()
    executor = loaded.executor
    assert htex_apps.add(1, 2).result(timeout=TASK_TIMEOUT) == 3

    assert list(executor.blocks) == ["0"]
    block_pid = loaded.block_pid("0")
    provider = executor.provider
    assert isinstance(provider, LocalProvider)
    assert isinstance(provider.launcher, SimpleLauncher)
    # SimpleLauncher leaves the manager command as is: it is the script's last line
    assert executor.run_dir is not None
    scripts = sorted(Path(executor.run_dir, "submit_scripts").glob("*.sh"))
    assert len(scripts) == 1
    assert scripts[0].read_text().rstrip().splitlines()[-1] == executor.launch_command("0")

    # bash -> one manager -> two workers
    manager = loaded.manager_pid("0")
    assert manager in children(block_pid)
    assert "--block-id 0" in cmdline(manager)
    workers = loaded.worker_pids("0", count=2)
    assert len(workers) == 2

    # every task runs in one of those workers, with the block's identity in its env
    seen = [htex_apps.worker_identity() for _ in range(8)]
    identities = [f.result(timeout=TASK_TIMEOUT) for f in seen]
    assert {i["pid"] for i in identities} <= set(workers)
    assert {i["ppid"] for i in identities} == {manager}
    assert {i["block"] for i in identities} == {"0"}
    assert {i["rank"] for i in identities} <= {"0", "1"}

    # the provider sees the block running; the interchange sees its manager
    wait_until(
        lambda: executor.poll(force=True)["0"].state is JobState.RUNNING,
        TASK_TIMEOUT,
        what="block 0 RUNNING",
    )
    wait_until(lambda: executor.connected_managers() == 1, TASK_TIMEOUT, what="one manager")

    loaded.dfk.cleanup()
    for pid in (manager, *workers, loaded.interchange_pid):
        wait_until(lambda pid=pid: not process_alive(pid), 5, what=f"process {pid} to exit")


def test_block_stdout_stderr_and_logs_are_in_the_run_dir(htex) -> None:
    loaded = htex()
    assert htex_apps.add(2, 2).result(timeout=TASK_TIMEOUT) == 4
    run_dir = loaded.dfk.run_dir
    logdir = Path(run_dir, "htex")
    assert (logdir / "interchange.log").exists()
    assert os.stat(logdir / "token").st_mode & 0o077 == 0, "the token file is readable by others"
    manager = loaded.manager_pid("0")
    assert (logdir / f"manager-0-{manager}.log").exists()
