"""Task states, numbered as in Parsl so monitoring data and scripts stay comparable."""

from __future__ import annotations

from enum import IntEnum


class States(IntEnum):
    """The life of a task.

    ``pending`` waits on dependencies; ``launched`` is with an executor;
    ``joining`` is a join app waiting on the futures its body returned;
    ``fail_retryable`` failed and will be launched again. ``exec_done``,
    ``memo_done``, ``failed``, ``dep_fail`` and ``cancelled`` are final.
    """

    pending = 0
    running = 2
    exec_done = 3
    failed = 4
    dep_fail = 5
    launched = 7
    fail_retryable = 8
    memo_done = 9
    joining = 10
    running_ended = 11
    cancelled = 12


FINAL_STATES = frozenset(
    {States.exec_done, States.memo_done, States.failed, States.dep_fail, States.cancelled}
)
FINAL_FAILURE_STATES = frozenset({States.failed, States.dep_fail})
