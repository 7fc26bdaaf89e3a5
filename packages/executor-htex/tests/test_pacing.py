"""The pacing rules: how much work each stage hands out ahead, from task run time."""

from __future__ import annotations

from pathlib import Path

import htex_apps
import pytest
from htex_helpers import TASK_TIMEOUT, make_htex

from plait_executor_htex import pacing


@pytest.mark.parametrize(
    ("pace", "hold"),
    [
        (None, None),  # not timed yet: idle workers only
        (0.0, pacing.WORKER_MOST),
        (0.000_005, pacing.WORKER_MOST),  # no-ops: as deep as allowed
        (0.000_1, 50),
        (0.001, 5),
        (0.004, 1),
        (0.005, 1),  # five milliseconds and longer: one at a time
        (3600.0, 1),
    ],
)
def test_worker_hold(pace: float | None, hold: int | None) -> None:
    assert pacing.worker_hold(pace) == hold


@pytest.mark.parametrize(
    ("pace", "extra"),
    [
        (None, pacing.MANAGER_UNKNOWN_PER_WORKER),
        (0.0, pacing.MANAGER_MOST_PER_WORKER),
        (0.000_005, pacing.MANAGER_MOST_PER_WORKER),
        (0.000_2, 100),
        (0.01, 2),
        (0.02, 1),
        (60.0, 1),  # long tasks: one spare per worker, never more
    ],
)
def test_manager_extra_per_worker(pace: float | None, extra: int) -> None:
    assert pacing.manager_extra_per_worker(pace) == extra


@pytest.mark.parametrize(
    ("free", "holding", "most", "queued", "send"),
    [
        (0, 0, 10, 5, False),  # no room
        (-3, 10, 10, 5, False),
        (1, 0, 514, 1, True),  # idle manager: always, even a single task
        (1, 3, 514, 1, True),  # short queue: the task goes out at once
        (10, 500, 514, 1000, False),  # busy, long queue: wait for a bigger batch
        (128, 386, 514, 1000, True),
        (5, 5, 18, 100, True),  # a quarter of 18 is 4
        (3, 15, 18, 100, False),
        (1, 2, 4, 100, True),  # long tasks: a single free slot is worth filling
    ],
)
def test_worth_sending(free: int, holding: int, most: int, queued: int, send: bool) -> None:
    assert pacing.worth_sending(free, holding, most, queued) is send


def test_pace_is_a_moving_average_of_timed_tasks_only() -> None:
    pace = pacing.TaskPace()
    assert pace.seconds is None
    pace.add_results([(1, "ok", None, None), (2, "err", None, 5.0)])  # none ran: still unknown
    assert pace.seconds is None
    pace.add_results([(1, "ok", 0.001, 5.0), (2, "ok", 0.003, 5.1), (3, "cancelled", None, None)])
    assert pace.seconds == pytest.approx(0.002)
    for _ in range(40):  # tasks got longer: the average follows
        pace.add(1.0, 1)
    assert pace.seconds == pytest.approx(1.0, rel=1e-3)
    pace.add(0.0, 0)  # an empty batch changes nothing
    assert pace.seconds == pytest.approx(1.0, rel=1e-3)


def test_once_tasks_are_known_to_be_long_no_task_waits_behind_one(htex, tmp_path: Path) -> None:
    """After tasks that took 0.2 s, workers get one task at a time: the short tasks queued
    around a long one all run on the other worker while the long one still runs. (The
    manager holds them all, prefetched; handed out several at a time, as they are while
    the pace is unknown, some would wait behind the long one until it ends.)"""
    loaded = htex(make_htex(max_workers_per_node=2, prefetch_capacity=10))
    warm = [htex_apps.nap(0.2) for _ in range(2)]
    assert [f.result(timeout=TASK_TIMEOUT) for f in warm] == [0.2, 0.2]
    release = tmp_path / "release"
    before = [htex_apps.add(i, 1) for i in range(2)]
    long = htex_apps.blocker(str(tmp_path / "started"), str(release))
    after = [htex_apps.add(i, 10) for i in range(6)]
    assert [f.result(timeout=TASK_TIMEOUT) for f in before + after] == [1, 2, *range(10, 16)]
    assert not long.done()
    release.write_text("go")
    assert long.result(timeout=TASK_TIMEOUT) in loaded.worker_pids("0", count=2)
