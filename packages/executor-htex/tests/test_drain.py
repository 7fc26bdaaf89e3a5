"""drain_period: a block stops taking tasks, finishes what it has, exits, and is replaced."""

from __future__ import annotations

import time
from typing import Any

from htex_apps import add
from htex_helpers import make_htex

from plait.providers.base import JobState


def test_draining_block_exits_and_work_moves_to_a_new_block(htex: Any) -> None:
    executor = make_htex(drain_period=1.0)
    loaded = htex(executor, strategy="simple", strategy_period=0.2)
    results = []
    deadline = time.monotonic() + 60
    # keep submitting until a second block has taken over from the drained first one
    while (
        "1" not in executor.block_status or executor.block_status["1"].state is not JobState.RUNNING
    ):
        assert time.monotonic() < deadline, executor.block_status
        results.append(add(len(results), 1).result(timeout=30))
    assert results == [i + 1 for i in range(len(results))]
    first = executor.poll(force=True)["0"]
    assert first.state is JobState.COMPLETED, first  # exited by itself, not cancelled
    assert loaded.dfk.task_counts()["failed"] == 0
