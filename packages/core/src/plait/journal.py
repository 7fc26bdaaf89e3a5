"""The task journal: every task state change, for monitors that record them all.

Observer hooks (``plait_task_state_changed``) build a 17-field event and make a
hook call for each state change, four per task. At tens of thousands of tasks a
second that is a fifth of the workflow's own time, spent on the threads that
run it. A monitor that records every change (a database, a log shipper) asks
the kernel for a journal instead (:meth:`DataFlowKernel.task_journal
<plait.dataflow.dflow.DataFlowKernel.task_journal>`): the kernel appends one
small tuple per change, and the monitor takes them in batches from a thread of
its own (:meth:`TaskJournal.take`), maybe ships them to another process as they
are (they hold only ints, floats, strings, None and tuples of ints, so
:mod:`marshal` takes them), and a :class:`JournalReader` turns them back into
:class:`~plait.events.TaskStateChanged` events wherever they are read.

An entry says only what changed; the state names its form:

- ``(task_id, "pending", try_id, timestamp, func_name, executor, time_invoked,
  depends, stdout, stderr, memoize)``: the first entry of every task, with the
  facts that never change after it (``timestamp`` is ``time_invoked``).
- the same with ``launched`` at the end: a task launched in the call that made
  it (it had no dependencies), so the entry is both its ``pending`` and its
  ``launched`` entry (its first try launched at ``launched``): one entry fewer
  for most tasks of a wide workflow.
- ``(task_id, "running", try_id, timestamp, block_id)``: the try's body started
  at ``timestamp``, in block ``block_id`` (None without blocks). Made when the
  start is reported if observer hooks watch task states too; else at the next
  :meth:`TaskJournal.take`, for a try still running then.
- ``(task_id, state, try_id, timestamp, error)``: a state reached through an
  exception (``"Type: message"``): ``fail_retryable``, ``failed``, ``dep_fail``,
  and ``memo_done`` of a cached failure.
- ``(task_id, state, try_id, timestamp)``: every other change.
- either of the last two with ``error`` (None if there was none), ``running``
  and ``block_id`` at the end: a state that ends a try whose start was not
  journaled yet, so the entry is also the try's ``running`` entry (it started
  at ``running``). Most tries start and end between two takes of the journal:
  they need no entry of their own for their start.

Try times follow from the entries: a try is launched at its ``launched`` entry,
runs from its ``running`` entry, and returns at the entry that ends it
(``joining``, ``exec_done``, ``fail_retryable`` or ``failed``). Forms are only
ever extended at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plait.events import TaskStateChanged

__all__ = ["JournalReader", "TaskJournal"]

#: the states after which a task has no more entries
_FINAL = frozenset({"exec_done", "memo_done", "failed", "dep_fail", "cancelled"})
#: the states that end a launched try: its result (or failure) came back
_RETURNED = frozenset({"joining", "exec_done", "fail_retryable", "failed"})


class TaskJournal:
    """The state changes of one run's tasks, oldest first, until someone takes them.

    The kernel appends from whichever thread a change happens on; one consumer
    takes entries from another thread. Neither needs a lock: appends only add
    at the end, and :meth:`take` copies and then removes the first entries, each
    step a single list operation the GIL makes atomic. Entries wait until taken:
    a monitor takes them for as long as its run lasts.

    :param run_id: the run whose tasks these are.
    :param sweep: called first by every :meth:`take`: the kernel journals then the
        starts of tries still running (the ``running`` entries), which otherwise go
        with the ends of their tries.
    """

    __slots__ = ("_entries", "_sweep", "append", "run_id")

    def __init__(self, run_id: str, sweep: Callable[[], None] | None = None) -> None:
        self.run_id = run_id
        self._entries: list[tuple[Any, ...]] = []
        self._sweep = sweep
        #: record one entry (the kernel calls this; a bound method saves a lookup per change)
        self.append = self._entries.append

    def take(self) -> list[tuple[Any, ...]]:
        """Remove and return the entries recorded so far, oldest first (one consumer)."""
        if self._sweep is not None:
            self._sweep()
        entries = self._entries
        taken = entries[: len(entries)]
        del entries[: len(taken)]
        return taken

    def __len__(self) -> int:
        return len(self._entries)


class _Task:
    """What a reader keeps of an unfinished task: its facts and its current try."""

    __slots__ = ("block", "facts", "launched", "returned", "running")

    def __init__(self, facts: tuple[Any, ...]) -> None:
        self.facts = facts
        self.launched: float | None = None
        self.running: float | None = None
        self.returned: float | None = None
        self.block: str | None = None


class JournalReader:
    """Turns one run's journal entries back into :class:`TaskStateChanged` events.

    It keeps each unfinished task's facts and try times, so it must read the
    entries of the run in order. Entries of a task whose ``pending`` entry it
    never read (a journal started after the task) are skipped and counted in
    :attr:`skipped`.

    :param run_id: the run (``event.run_id``).
    """

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.skipped = 0
        self._tasks: dict[int, _Task] = {}

    def events(self, entries: list[tuple[Any, ...]]) -> list[TaskStateChanged]:
        """The events of ``entries``, in order."""
        events = []
        tasks = self._tasks
        for entry in entries:
            tid, state, try_id, timestamp = entry[:4]
            error = None
            if state == "pending":
                task = tasks[tid] = _Task(entry[4:11])
                if len(entry) > 11:  # launched in the same call
                    events.append(self._event(tid, task, "pending", try_id, timestamp, None))
                    state, timestamp = "launched", entry[11]
                    task.launched = timestamp
            else:
                found = tasks.get(tid)
                if found is None:
                    self.skipped += 1
                    continue
                task = found
                if state == "launched":
                    task.launched, task.running, task.returned = timestamp, None, None
                    task.block = None
                elif state == "running":
                    task.running, task.block = timestamp, entry[4]
                else:
                    if len(entry) > 4:
                        error = entry[4]
                        if len(entry) > 5:  # the try's start, journaled with its end
                            task.running, task.block = entry[5], entry[6]
                            events.append(self._event(tid, task, "running", try_id, entry[5], None))
                    if state in _RETURNED and task.launched is not None and task.returned is None:
                        task.returned = timestamp
                    if state in _FINAL:
                        del tasks[tid]
            events.append(self._event(tid, task, state, try_id, timestamp, error))
        return events

    def _event(
        self,
        tid: int,
        task: _Task,
        state: str,
        try_id: int,
        timestamp: float,
        error: str | None,
    ) -> TaskStateChanged:
        """The event of ``task`` reaching ``state``, with its facts and try times."""
        func_name, executor, time_invoked, depends, stdout, stderr, memoize = task.facts
        pending = state == "pending"
        return TaskStateChanged(
            self.run_id,
            tid,
            func_name,
            state,
            try_id,
            executor,
            timestamp,
            time_invoked,
            task.launched,
            task.returned,
            error,
            depends,
            stdout if pending else None,
            stderr if pending else None,
            memoize if pending else False,
            task.running,
            task.block,
        )
