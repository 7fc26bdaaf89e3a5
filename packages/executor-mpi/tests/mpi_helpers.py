"""Helpers for the MPI tests: which MPIs are installed, and a process watcher.

Imported by ``conftest.py`` and the test modules as the top-level module
``mpi_helpers`` (``conftest.py`` puts this directory on ``sys.path``).
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass

import pytest

from plait.testing import process_alive, wait_until

#: how long an ordinary MPI task may take (start-up of a block included)
TASK_TIMEOUT = 60.0
HB_PERIOD = 0.5
HB_THRESHOLD = 5.0

#: the Debian launcher of each implementation, and the package that installs it
LAUNCHERS = {"openmpi": ("mpiexec.openmpi", "openmpi-bin"), "mpich": ("mpiexec.mpich", "mpich")}

#: command-line fragments of the processes an MPI test starts
MARKERS = (
    "plait_executor_mpi",
    "plait-mpi-manager",
    "plait_executor_htex",
    "orterun",
    "mpiexec",
    "hydra_pmi_proxy",
    "mpi_hello.py",
    "plait-mpi-test-sleep",
)


def require_mpi(implementation: str) -> None:
    """Skip (or, with ``PLAIT_REQUIRE_MPI`` set, as CI does, fail) unless the
    implementation's launcher is installed."""
    program, package = LAUNCHERS[implementation]
    if shutil.which(program) is None:
        reason = f"{program} is not installed (apt-get install {package})"
        if os.environ.get("PLAIT_REQUIRE_MPI"):
            pytest.fail(f"PLAIT_REQUIRE_MPI is set but {reason}")
        pytest.skip(reason)


def _stat(pid: int) -> tuple[str, int, int] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    return fields[0], int(fields[1]), int(fields[19])


def cmdline(pid: int) -> str:
    """The command line of ``pid`` ('' if it is gone or a zombie)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def descendants(root: int) -> list[int]:
    """Live processes whose parent chain leads to ``root``."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _stat(int(name))
            if stat is not None and stat[0] not in ("Z", "X"):
                parents[int(name)] = stat[1]
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


@dataclass(frozen=True)
class Seen:
    pid: int
    starttime: int
    cmdline: str

    def alive(self) -> bool:
        stat = _stat(self.pid)
        return stat is not None and stat[2] == self.starttime and process_alive(self.pid)


class ProcessWatch:
    """Records every MPI-test process descending from this test process (a thread scans
    /proc every ``interval`` seconds; start times tell a reused pid from a survivor)."""

    def __init__(self, interval: float = 0.05) -> None:
        self.root = os.getpid()
        self.seen: dict[tuple[int, int], Seen] = {}
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, name="mpi-test-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.scan()
            self._stop.wait(self._interval)

    def scan(self) -> None:
        for pid in descendants(self.root):
            line = cmdline(pid)
            stat = _stat(pid)
            if stat is not None and any(marker in line for marker in MARKERS):
                self.seen.setdefault((pid, stat[2]), Seen(pid, stat[2], line))

    def survivors(self) -> list[Seen]:
        return [p for p in list(self.seen.values()) if p.alive()]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def assert_no_survivors(watch: ProcessWatch, grace: float = 5.0) -> None:
    """Every MPI-test process seen is gone (within ``grace`` seconds)."""
    watch.scan()
    try:
        wait_until(lambda: not watch.survivors(), grace, what="every MPI process to exit")
    except AssertionError:
        left = "\n".join(f"  pid {p.pid}: {p.cmdline}" for p in watch.survivors())
        raise AssertionError(f"processes left after cleanup:\n{left}") from None
