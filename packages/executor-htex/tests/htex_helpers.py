"""Helpers for the HTEX tests: settings, /proc inspection, a process watcher.

Imported by ``conftest.py`` and the test modules as the top-level module
``htex_helpers`` (``conftest.py`` puts this directory on ``sys.path``; the
workers get it through ``PYTHONPATH``, although they only import ``htex_apps``).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plait.dataflow.dflow import DataFlowKernel
from plait.launchers.simple import SimpleLauncher
from plait.providers.local import LocalProvider
from plait.testing import process_alive, wait_until
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


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """``(state, ppid, starttime)`` of ``pid`` from /proc, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    # fields[0] is proc(5) field 3 (state); ppid is field 4, starttime field 22
    return fields[0], int(fields[1]), int(fields[19])


def cmdline(pid: int) -> str:
    """The command line of ``pid`` ('' if it is gone or a zombie)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _live_parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        stat = proc_stat(int(name))
        if stat is not None and stat[0] not in ("Z", "X"):
            parents[int(name)] = stat[1]
    return parents


def children(pid: int) -> list[int]:
    """Live (non-zombie) children of ``pid``."""
    return sorted(child for child, parent in _live_parents().items() if parent == pid)


def descendants(root: int) -> list[int]:
    """Live processes whose parent chain leads to ``root``."""
    parents = _live_parents()
    found = []
    for pid in parents:
        current = pid
        for _ in range(64):
            parent = parents.get(current)
            if parent is None:
                break
            if parent == root:
                found.append(pid)
                break
            current = parent
    return sorted(found)


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


@dataclass(frozen=True)
class SeenProcess:
    pid: int
    starttime: int
    cmdline: str

    def alive(self) -> bool:
        """Still the same process (not a reused pid) and not a zombie."""
        stat = proc_stat(self.pid)
        return stat is not None and stat[2] == self.starttime and process_alive(self.pid)


class ProcessWatch:
    """Records every HTEX process that descends from this test process.

    A background thread scans /proc every ``interval`` seconds; processes are
    remembered with their start time, so a pid reused later is not taken for
    a survivor. Tests add processes they learn otherwise with :meth:`learn`
    (those of a submitting process killed before the scan saw them, say).
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.root = os.getpid()
        self.interval = interval
        self.seen: dict[tuple[int, int], SeenProcess] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="htex-test-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.scan()
            self._stop.wait(self.interval)

    def scan(self) -> None:
        for pid in descendants(self.root):
            if is_htex_process(pid):
                self.learn(pid)

    def learn(self, pid: int) -> None:
        stat = proc_stat(pid)
        line = cmdline(pid)
        if stat is None or not line:
            return
        with self._lock:
            self.seen.setdefault((pid, stat[2]), SeenProcess(pid, stat[2], line))

    def pids(self) -> list[int]:
        with self._lock:
            return sorted(p.pid for p in self.seen.values())

    def survivors(self) -> list[SeenProcess]:
        with self._lock:
            seen = list(self.seen.values())
        return [p for p in seen if p.alive()]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def assert_no_survivors(watch: ProcessWatch, grace: float = 2.0) -> None:
    """Every HTEX process seen is gone (within ``grace`` seconds, for signal delivery)."""
    watch.scan()
    try:
        wait_until(lambda: not watch.survivors(), grace, what="every HTEX process to exit")
    except AssertionError:
        left = "\n".join(f"  pid {p.pid}: {p.cmdline}" for p in watch.survivors())
        raise AssertionError(f"HTEX processes left after cleanup:\n{left}") from None


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
