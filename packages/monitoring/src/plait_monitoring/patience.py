"""Waiting for a writer to finish for as long as it makes progress, and no longer."""

from __future__ import annotations

import time
from collections.abc import Callable

#: how often the waiter looks again
STEP = 0.5


def wait_while_progressing(
    finished: Callable[[float], bool], progress: Callable[[], int], patience: float
) -> bool:
    """Wait until ``finished(STEP)`` (which may block up to STEP seconds) says True.

    Writing a large backlog can take long, which is fine while records are being
    written; a writer stuck in one call is not. So the wait has no deadline of its
    own, only one for a standstill.

    :param progress: a count that grows while the writer works (records written).
    :param patience: seconds without progress after which to give up.
    :returns: True if it finished, False if it made no progress for ``patience``.
    """
    last, progress_at = progress(), time.monotonic()
    while not finished(STEP):
        now = progress()
        if now != last:
            last, progress_at = now, time.monotonic()
        elif time.monotonic() - progress_at > patience:
            return False
    return True
