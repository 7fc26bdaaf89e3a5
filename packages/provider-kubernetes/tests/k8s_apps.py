"""Apps the end-to-end tests run on HTEX workers inside pods (imported by name)."""

from __future__ import annotations

import os
import time

import plait


@plait.python_app
def env_var(name: str) -> str | None:
    """A variable of the worker's environment (the pod's env reaches it)."""
    return os.environ.get(name)


@plait.python_app
def pid_then_sleep(path: str, seconds: float) -> int:
    """Write this worker's pid to ``path``, then sleep."""
    with open(path + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(path + ".tmp", path)
    time.sleep(seconds)
    return os.getpid()


@plait.python_app
def add(a: int, b: int) -> int:
    return a + b
