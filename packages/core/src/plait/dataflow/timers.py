"""One thread that fires deadlines (task walltimes) for a whole DataFlowKernel.

A thread per timer (``threading.Timer``) would cost a thread per running task;
a heap and one condition variable cost a few microseconds per task.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any


class DeadlineTimer:
    """Calls ``callback(*args)`` at or soon after each scheduled deadline."""

    def __init__(self, name: str = "plait-walltime") -> None:
        self._heap: list[tuple[float, int, Callable[..., Any], tuple[Any, ...]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def schedule(self, delay: float, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` in ``delay`` seconds (on the timer thread)."""
        entry = (time.monotonic() + delay, next(self._seq), callback, args)
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._heap[0] is entry:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if not self._heap:
                        self._cond.wait()
                        continue
                    wait = self._heap[0][0] - time.monotonic()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                if self._stopped:
                    return
                _, _, callback, args = heapq.heappop(self._heap)
            callback(*args)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread; pending deadlines never fire. Idempotent."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
