"""A :class:`concurrent.futures.Future` that keeps fewer objects alive.

The standard future's :class:`threading.Condition` stores five bound methods of
its lock on itself and a queue for waiters that most futures never have, and
the future keeps its list of done-callbacks after they ran. Users hold task
futures by the hundred thousand and executors make one more per task, and every
object a future holds is one more for the cyclic GC to allocate and walk, over
and over: with 50,000 futures held, the GC took about half of the kernel's time
per task. :class:`LeanFuture` is the same future with a condition that looks
those methods up on its class and makes its waiter queue for its first waiter,
and it lets go of the callback list once the callbacks ran. Executors may
return it from ``submit`` (it *is* a ``Future``).
"""

from __future__ import annotations

import collections
import threading
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

#: no waiters (yet): notify() finds nothing to wake, wait() makes the real queue
_NO_WAITERS: tuple[Any, ...] = ()
#: a finished future's callbacks: none can be added once it is done (they run at once)
_NO_CALLBACKS: tuple[Any, ...] = ()


class _LeanCondition(threading.Condition):
    """A condition over its own RLock, with the lock's methods found on the class and
    its waiter queue made when a thread first waits."""

    def __init__(self) -> None:  # the parent's __init__ would store the bound methods
        self._lock = threading.RLock()
        self._waiters: collections.deque[Any] | tuple[Any, ...] = _NO_WAITERS

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        if self._waiters is _NO_WAITERS:  # the lock is held: no other thread is here
            self._waiters = collections.deque()
        return super().wait(timeout)

    def _release_save(self) -> Any:
        return self._lock._release_save()  # type: ignore[attr-defined]

    def _acquire_restore(self, state: Any) -> None:
        self._lock._acquire_restore(state)  # type: ignore[attr-defined]

    def _is_owned(self) -> bool:
        return bool(self._lock._is_owned())  # type: ignore[attr-defined]


class LeanFuture(Future[T]):
    """A ``Future`` in every respect, lighter to make and to keep."""

    def __init__(self) -> None:
        # Future.__init__'s fields, with the lighter condition (a test checks that
        # these are still all of Future's fields)
        self._condition = _LeanCondition()
        self._state = "PENDING"
        self._result = None
        self._exception = None
        self._waiters: list[Any] = []
        self._done_callbacks: list[Any] = []

    def set_result(self, result: Any) -> None:
        super().set_result(result)
        self._done_callbacks = _NO_CALLBACKS  # type: ignore[assignment]

    def set_exception(self, exception: BaseException | None) -> None:
        super().set_exception(exception)
        self._done_callbacks = _NO_CALLBACKS  # type: ignore[assignment]
