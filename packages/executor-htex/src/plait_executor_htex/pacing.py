"""How many tasks to hand out ahead of time, from how long tasks take.

Every message between the interchange, a manager and a worker costs tens of
microseconds of CPU on each side, so tiny tasks must travel many to a message
or the messages cost more than the tasks. Long tasks must not: a task queued
behind a long one on a busy worker (or manager) waits while others sit idle.
So each stage measures how long tasks run (workers time them, the time travels
with each result) and holds about a fixed *amount of work* ahead: many tiny
tasks, one long one. Until anything is measured the stages assume tasks are
long.

These are pure functions of the measured pace, tested by tables of cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: seconds of work a worker may hold, its running task included, when tasks are short
WORKER_AHEAD_SECONDS = 0.005
#: most tasks a worker ever holds
WORKER_MOST = 64
#: most tasks handed to an idle worker at once while the pace is unknown
UNKNOWN_CHUNK = 32
#: seconds of work per worker a manager may hold beyond its workers (adaptive prefetch)
MANAGER_AHEAD_SECONDS = 0.02
#: extra tasks per worker a manager may hold while the pace is unknown
MANAGER_UNKNOWN_PER_WORKER = 8
#: most extra tasks per worker a manager ever holds
MANAGER_MOST_PER_WORKER = 256


class TaskPace:
    """A moving average of task run time in seconds; None until a task is timed."""

    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds: float | None = None

    def add(self, total: float, count: int) -> None:
        """Fold in ``count`` tasks that ran for ``total`` seconds together."""
        if count <= 0:
            return
        mean = total / count
        self.seconds = mean if self.seconds is None else 0.7 * self.seconds + 0.3 * mean

    def add_results(self, header: Sequence[Sequence[Any]]) -> None:
        """Fold in the run times in a results header: each entry's third item, (task id,
        kind, seconds, ...); None marks a task that never ran."""
        total, count = 0.0, 0
        for entry in header:
            seconds = entry[2]
            if seconds is not None:
                total += seconds
                count += 1
        self.add(total, count)


def worker_hold(pace: float | None) -> int | None:
    """Most tasks a worker should hold at once, its running task included, or None while
    the pace is unknown (then only idle workers get tasks, as many as :data:`UNKNOWN_CHUNK`).

    A worker is given more once it holds half of this or less, so a busy worker's
    next tasks are already there when it finishes (no round trip between tasks).
    """
    if pace is None:
        return None
    if pace <= 0:
        return WORKER_MOST
    return max(1, min(WORKER_MOST, int(WORKER_AHEAD_SECONDS / pace)))


def manager_extra_per_worker(pace: float | None) -> int:
    """Tasks per worker a manager may hold beyond one per worker (adaptive prefetch)."""
    if pace is None:
        return MANAGER_UNKNOWN_PER_WORKER
    if pace <= 0:
        return MANAGER_MOST_PER_WORKER
    return max(1, min(MANAGER_MOST_PER_WORKER, int(MANAGER_AHEAD_SECONDS / pace)))


def worth_sending(free: int, holding: int, most: int, queued: int) -> bool:
    """Whether a manager with room for ``free`` more tasks should get a batch now.

    An idle manager always does. A busy one waits until it has room for a quarter
    of what it may hold (or for the whole queue), so batches stay large while the
    queue is long and single tasks still go out at once when it is short.
    """
    if free <= 0:
        return False
    if holding == 0:
        return True
    return free >= min(queued, max(1, most // 4))
