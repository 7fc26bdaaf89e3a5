"""Apps the HTEX tests run on real workers.

The workers import this module by name (apps travel by reference), so it must
be importable as the top-level module ``htex_apps`` both here and in the worker
processes: ``conftest.py`` puts this directory on ``sys.path`` and on the
``PYTHONPATH`` the managers and workers inherit. Keep it free of test-only
imports (pytest): workers import it.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

from plait import bash_app, python_app

#: how long an app waiting for a release file waits at most (the tests' own
#: deadlines are shorter, so a missing release fails the test, not the app)
RELEASE_TIMEOUT = 60.0


class HtexAppError(Exception):
    """Raised by :func:`fail_with`; must come back to the submitter as itself."""


class UnpicklableError(Exception):
    """An exception carrying a generator, so neither pickle nor dill can send it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.pending = (i for i in range(1))


def _write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _wait_for_file(path: str, timeout: float = RELEASE_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout:g} s")
        time.sleep(0.01)


@python_app
def add(a: Any, b: Any = 0) -> Any:
    return a + b


@python_app
def fail_with(message: str) -> None:
    raise HtexAppError(message)


@python_app
def fail_unpicklable(message: str) -> None:
    raise UnpicklableError(message)


@python_app
def worker_identity() -> dict[str, Any]:
    """Who ran this task: the worker's pid, its parent (the manager) and its env."""
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "rank": os.environ.get("PLAIT_WORKER_RANK"),
        "block": os.environ.get("PLAIT_WORKER_BLOCK_ID"),
    }


@python_app
def record(log: str, tag: str) -> str:
    """Append ``tag`` as one line to ``log`` (one write, O_APPEND): completion order."""
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{tag}\n".encode())
    finally:
        os.close(fd)
    return tag


@python_app
def blocker(started: str, release: str) -> int:
    """Say it started (``started`` holds this worker's pid), then wait for ``release``."""
    _write_atomically(started, str(os.getpid()))
    _wait_for_file(release)
    return os.getpid()


@python_app
def pid_then_sleep(pid_file: str, seconds: float) -> int:
    """Write this worker's pid to ``pid_file``, then sleep (a long-running task)."""
    _write_atomically(pid_file, str(os.getpid()))
    time.sleep(seconds)
    return os.getpid()


@python_app
def spin(seconds: float) -> int:
    """Use a CPU for ``seconds`` (in 10 ms bursts, so a sampler thread gets turns); the
    worker's pid."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        burst = time.monotonic() + 0.01
        while time.monotonic() < burst:
            pass
        time.sleep(0.002)
    return os.getpid()


@python_app
def nap(seconds: float) -> float:
    """Sleep ``seconds`` (a task of known length)."""
    time.sleep(seconds)
    return seconds


@python_app
def touch_then_return(path: str, value: Any) -> Any:
    """Create ``path`` (proof that the task ran) and return ``value``."""
    _write_atomically(path, "ran")
    return value


@python_app
def kill_self_once(marker: str) -> str:
    """First try: create ``marker`` and SIGKILL this worker. Later tries: succeed."""
    if not os.path.exists(marker):
        _write_atomically(marker, str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(30)  # never reached: the signal is synchronous enough
    return f"survived in {os.getpid()}"


@python_app
def consume(items: Any) -> int:
    return sum(1 for _ in items)


def _numbers() -> Iterator[int]:
    yield 1


@python_app
def make_generator() -> Iterator[int]:
    """Returns a generator: a result no serializer can send back."""
    return _numbers()


@python_app
def total(inputs: Any = ()) -> Any:
    return sum(inputs)


@bash_app
def echo_to(path: str, text: str) -> str:
    return f"echo {text} > {path}"


@bash_app
def exit_with(code: int) -> str:
    return f"exit {code}"


@bash_app
def bash_sleep(seconds: float) -> str:
    return f"sleep {seconds}"


@python_app
def rendezvous(mine: str, other: str, timeout: float) -> bool:
    """Create ``mine`` then wait for ``other``: succeeds only if a partner task runs at
    the same time (TimeoutError otherwise)."""
    _write_atomically(mine, str(os.getpid()))
    _wait_for_file(other, timeout)
    return True


@bash_app
def bash_pid_then_sleep(pid_file: str, seconds: float) -> str:
    """The command writes its own pid to ``pid_file``, then becomes ``sleep``."""
    return f"echo $$ > {pid_file}.tmp && mv {pid_file}.tmp {pid_file} && exec sleep {seconds}"
