"""Watching the processes a test starts, so it can assert that none is left (Linux /proc).

Executors start interchanges, managers, workers and launchers; a test that shuts
one down must show every one of them is gone. :class:`ProcessWatch` scans /proc
in a thread, remembers each descendant of the test process whose command line
has one of its markers (with its start time, so a reused pid is not taken for a
survivor), and :func:`assert_no_survivors` waits a little for them to exit.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from plait.testing.contracts import process_alive, wait_until


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
    """Records every descendant of this process whose command line contains a marker.

    :param markers: command-line fragments of the processes to watch.
    :param interval: seconds between two scans of /proc.

    Tests add processes they learn otherwise with :meth:`learn` (those of a
    submitting process killed before a scan saw them, say). Call :meth:`stop`.
    """

    def __init__(self, markers: Iterable[str], interval: float = 0.05) -> None:
        self.markers = tuple(markers)
        self.root = os.getpid()
        self.interval = interval
        self.seen: dict[tuple[int, int], SeenProcess] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="plait-test-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.scan()
            self._stop.wait(self.interval)

    def scan(self) -> None:
        """Look at /proc now."""
        for pid in descendants(self.root):
            if any(marker in cmdline(pid) for marker in self.markers):
                self.learn(pid)

    def learn(self, pid: int) -> None:
        """Watch ``pid`` too."""
        stat = proc_stat(pid)
        line = cmdline(pid)
        if stat is None or not line:
            return
        with self._lock:
            self.seen.setdefault((pid, stat[2]), SeenProcess(pid, stat[2], line))

    def pids(self) -> list[int]:
        """Every pid seen so far."""
        with self._lock:
            return sorted(p.pid for p in self.seen.values())

    def survivors(self) -> list[SeenProcess]:
        """The processes seen that are still alive."""
        with self._lock:
            seen = list(self.seen.values())
        return [p for p in seen if p.alive()]

    def stop(self) -> None:
        """Stop scanning."""
        self._stop.set()
        self._thread.join(5)


def assert_no_survivors(watch: ProcessWatch, grace: float = 2.0, what: str = "processes") -> None:
    """Every process ``watch`` saw is gone (within ``grace`` seconds, for signal delivery).

    :raises AssertionError: listing the survivors' pids and command lines.
    """
    watch.scan()
    try:
        wait_until(lambda: not watch.survivors(), grace, what=f"every {what} to exit")
    except AssertionError:
        left = "\n".join(f"  pid {p.pid}: {p.cmdline}" for p in watch.survivors())
        raise AssertionError(f"{what} left after cleanup:\n{left}") from None
