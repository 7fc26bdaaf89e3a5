"""Helpers for the HTEX tests: settings, /proc inspection, a process watcher.

Imported by ``conftest.py`` and the test modules as the top-level module
``htex_helpers`` (``conftest.py`` puts this directory on ``sys.path``; the
workers get it through ``PYTHONPATH``, although they only import ``htex_apps``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plait import testing
from plait.dataflow.dflow import DataFlowKernel
from plait.launchers.simple import SimpleLauncher
from plait.providers.local import LocalProvider
from plait.testing import process_alive, wait_until
from plait.testing.processes import children, cmdline, descendants
from plait_executor_htex import HighThroughputExecutor

TESTS_DIR = Path(__file__).resolve().parent

HB_PERIOD = 0.5
HB_THRESHOLD = 3.0
#: slack on top of the heartbeat threshold for a fault to be noticed and reported
MARGIN = 4.0
#: how long an ordinary task may take (start-up of a block included)
TASK_TIMEOUT = 30.0
#: a kernel's cleanup must return within this
CLEANUP_LIMIT = 10.0

#: command-line fragments of HTEX's own processes
HTEX_MARKERS = ("plait_executor_htex", "plait-htex-manager")


# ---------------------------------------------------------------------------
# /proc
# ---------------------------------------------------------------------------


def is_htex_process(pid: int) -> bool:
    line = cmdline(pid)
    return any(marker in line for marker in HTEX_MARKERS)


def is_manager(pid: int) -> bool:
    line = cmdline(pid)
    return "plait-htex-manager" in line or "plait_executor_htex.manager" in line


def is_worker(pid: int) -> bool:
    return "plait_executor_htex.worker" in cmdline(pid)


def read_pid(path: Path) -> int | None:
    """The pid written (atomically) to ``path``, or None if it is not there yet."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def wait_pid_file(path: Path, timeout: float = TASK_TIMEOUT) -> int:
    pid = wait_until(lambda: read_pid(path), timeout, what=f"a pid in {path}")
    assert pid is not None
    return pid


def wait_gone(pids: list[int] | tuple[int, ...], timeout: float, what: str = "") -> float:
    """Wait until none of ``pids`` is alive; return how long that took."""
    began = time.monotonic()
    wait_until(
        lambda: not [p for p in pids if process_alive(p)],
        timeout,
        what=what or f"processes {list(pids)} to exit",
    )
    return time.monotonic() - began


# ---------------------------------------------------------------------------
# Watching the processes a test starts
# ---------------------------------------------------------------------------


class ProcessWatch(testing.ProcessWatch):
    """Records every HTEX process that descends from this test process."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(HTEX_MARKERS, interval)


def assert_no_survivors(watch: ProcessWatch, grace: float = 2.0) -> None:
    """Every HTEX process seen is gone (within ``grace`` seconds, for signal delivery)."""
    testing.assert_no_survivors(watch, grace, what="HTEX processes")


# ---------------------------------------------------------------------------
# Executors and kernels
# ---------------------------------------------------------------------------


def make_htex(provider: LocalProvider | None = None, **overrides: Any) -> HighThroughputExecutor:
    """The executor every test uses unless it says otherwise."""
    options: dict[str, Any] = {
        "label": "htex",
        "max_workers_per_node": 2,
        "heartbeat_period": HB_PERIOD,
        "heartbeat_threshold": HB_THRESHOLD,
        "provider": provider or LocalProvider(launcher=SimpleLauncher()),
    }
    options.update(overrides)
    return HighThroughputExecutor(**options)


@dataclass
class Loaded:
    """One loaded kernel, its executor, and ways to find its processes."""

    dfk: DataFlowKernel
    executor: HighThroughputExecutor

    @property
    def interchange_pid(self) -> int:
        assert self.executor._ix is not None
        return self.executor._ix.pid

    def block_pid(self, block_id: str = "0") -> int:
        """The pid of block ``block_id``'s bash script (LocalProvider's process)."""
        provider = self.executor.provider
        assert isinstance(provider, LocalProvider)
        job_id = wait_until(
            lambda: self.executor.blocks.get(block_id), TASK_TIMEOUT, what=f"block {block_id}"
        )
        return provider._jobs[job_id].pid

    def manager_pid(self, block_id: str = "0") -> int:
        """The one manager process of a block."""
        block = self.block_pid(block_id)

        def one_manager() -> int | None:
            managers = [p for p in descendants(block) if is_manager(p)]
            return managers[0] if len(managers) == 1 else None

        pid = wait_until(one_manager, TASK_TIMEOUT, what=f"the manager of block {block_id}")
        assert pid is not None
        return pid

    def worker_pids(self, block_id: str = "0", count: int = 2) -> list[int]:
        """The manager's ``count`` worker processes (waits until there are exactly that many)."""
        manager = self.manager_pid(block_id)

        def workers() -> list[int] | None:
            found = [p for p in children(manager) if is_worker(p)]
            return found if len(found) == count else None

        result = wait_until(workers, TASK_TIMEOUT, what=f"{count} workers of manager {manager}")
        assert result is not None
        return result


def cleanup_within(dfk: DataFlowKernel, limit: float = CLEANUP_LIMIT) -> float:
    """Clean ``dfk`` up; assert it took less than ``limit`` seconds; return the time."""
    began = time.monotonic()
    dfk.cleanup()
    took = time.monotonic() - began
    assert took < limit, f"kernel cleanup took {took:.1f} s"
    return took
