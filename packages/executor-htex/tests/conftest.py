"""Fixtures for the HTEX tests: real interchanges, managers and workers on 127.0.0.1.

Every kernel a test loads through :func:`htex` runs one HighThroughputExecutor
on a ``LocalProvider(launcher=SimpleLauncher())`` (each block is one manager
process group), with fast heartbeats so faults are detected in seconds. The
fixture cleans every kernel up and then checks that no interchange, manager or
worker process seen during the test is still alive.

The apps live in ``htex_apps.py`` next to this file. Workers import them by
name, so this directory goes on ``sys.path`` here and on the ``PYTHONPATH`` that
the managers (and through them the workers) inherit.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from htex_helpers import (  # noqa: E402
    Loaded,
    ProcessWatch,
    assert_no_survivors,
    cleanup_within,
    make_htex,
)

import plait  # noqa: E402
from plait import Config  # noqa: E402
from plait_executor_htex import HighThroughputExecutor  # noqa: E402


@pytest.fixture(autouse=True)
def worker_pythonpath(monkeypatch: pytest.MonkeyPatch) -> None:
    """Managers and workers inherit this environment: let them import ``htex_apps``."""
    existing = os.environ.get("PYTHONPATH")
    value = str(TESTS_DIR) if not existing else os.pathsep.join([str(TESTS_DIR), existing])
    monkeypatch.setenv("PYTHONPATH", value)


@pytest.fixture
def process_watch() -> Iterator[ProcessWatch]:
    """Every HTEX process descending from this test process, recorded while the test runs."""
    watch = ProcessWatch()
    try:
        yield watch
    finally:
        watch.stop()


@pytest.fixture
def htex(tmp_path: Path, process_watch: ProcessWatch) -> Iterator[Callable[..., Loaded]]:
    """``htex(executor=None, **config)``: load a kernel on an HTEX executor.

    Each kernel is cleaned up after the test (again, if the test did already:
    cleanup is idempotent) within the time limit; then every HTEX process seen
    during the test must be gone.
    """
    loaded: list[Loaded] = []

    def load(executor: HighThroughputExecutor | None = None, **config: Any) -> Loaded:
        executor = executor or make_htex()
        config.setdefault("run_dir", str(tmp_path / "runinfo"))
        dfk = plait.load(Config(executors=[executor], **config))
        item = Loaded(dfk, executor)
        loaded.append(item)
        if executor._ix is not None:
            process_watch.learn(executor._ix.pid)
        return item

    try:
        yield load
    finally:
        for item in loaded:
            try:
                cleanup_within(item.dfk)
            finally:
                plait.clear()
    assert_no_survivors(process_watch)
