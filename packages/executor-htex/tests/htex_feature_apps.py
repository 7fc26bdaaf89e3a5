"""Apps for the feature tests (imported by the workers by reference)."""

from __future__ import annotations

import os
from typing import Any

from plait import python_app


@python_app
def rendezvous_env(
    directory: str, count: int, names: list[str], timeout: float = 20
) -> dict[str, Any]:
    """Wait until ``count`` tasks are running at once (so each is on its own worker),
    then report the environment."""
    import time

    mine = os.path.join(directory, str(os.getpid()))
    open(mine, "w").close()
    deadline = time.monotonic() + timeout
    while len(os.listdir(directory)) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    found: dict[str, Any] = {name: os.environ.get(name) for name in names}
    found["cpus"] = sorted(os.sched_getaffinity(0))
    return found


@python_app
def plugin_scan_state() -> dict[str, Any]:
    """Whether this worker process ever built plait's plugin manager (scanned entry points)."""
    import sys

    import plait.plugins.manager as manager

    return {
        "scanned": manager._current is not None,
        "importlib_metadata_loaded": "importlib_metadata" in sys.modules,
        "pid": os.getpid(),
    }
