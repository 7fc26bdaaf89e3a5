"""The one thread that writes a run's records: the workflow never waits on the database.

It runs in the hub's recorder process (:mod:`plait_monitoring.recorder`), which
calls :meth:`Writer.put` with each event object, or :meth:`Writer.put_many`
with a list of them (a lock-free queue append). The thread turns events into
row operations, keeps them in a
:class:`~plait_monitoring.buffer.SpillBuffer` and writes whatever has gathered in
one transaction at most every :data:`FLUSH_EVERY` seconds (sooner once a full
batch waits), so rows reach the database within a second while it keeps up,
and in bigger batches when it falls behind.

When the database is locked or unreachable, the batch stays in the buffer and
is retried with a growing pause (at most :data:`MAX_BACKOFF` seconds), with one
warning when the outage starts and one when the records are written after it.
A batch the database rejects for its content is written one operation at a
time, and only the operations it still rejects are set aside in a file (an
error says where): one bad value never holds up the rest.

:meth:`Writer.close` asks the thread to write everything. It waits as long as
records are being written, but at most the given time for a database that
takes none; what is still unwritten then stays in the spill file, and a
warning gives the ``plait monitoring replay`` command that loads it.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time

from sqlalchemy.exc import SQLAlchemyError

from plait.events import TaskStateChanged
from plait_monitoring.buffer import SpillBuffer
from plait_monitoring.db.engine import shown
from plait_monitoring.db.store import Store, is_transient
from plait_monitoring.errors import SchemaError, first_line
from plait_monitoring.patience import wait_while_progressing
from plait_monitoring.rows import Op, RowMaker

logger = logging.getLogger("plait.monitoring")

BATCH = 5000  # most operations in one transaction
#: seconds between two transactions while fewer than BATCH operations wait: rows still
#: arrive within a second, and a busy workflow's writer wakes and commits ten times
#: less often than once per event
FLUSH_EVERY = 0.25
DRAIN = 20000  # most events taken from the queue between two writes
#: while the database takes records, only more slowly than they come (a burst of short
#: tasks), this many times the buffer's bound wait in memory before any is spilled: the
#: bound is for outages, and spilling and reading back costs more than the writing
BUSY_FACTOR = 10
MIN_BACKOFF = 0.1
MAX_BACKOFF = 2.0
#: how long past its patience close() still waits for a thread stuck in one database
#: call (each is bounded by the engine's lock and connect timeouts)
STUCK_GRACE = 10.0


class _Stop:
    def __init__(self, patience: float) -> None:
        self.patience = patience  # seconds to wait for the database to take a batch


class Writer:
    """Writes one run's events to ``store``.

    :param store: where to write.
    :param rows: turns events into operations.
    :param buffer: the backlog (its spill file is in the run directory); its ``limit``
        holds during outages, :data:`BUSY_FACTOR` times it while the database takes
        records.
    :param rejected_path: where operations the database refuses are set aside.
    """

    def __init__(self, store: Store, rows: RowMaker, buffer: SpillBuffer, rejected_path: str):
        self.store = store
        self.rows = rows
        self.buffer = buffer
        self._outage_limit = buffer.limit
        buffer.limit = buffer.limit * BUSY_FACTOR
        self.rejected_path = rejected_path
        self.written = 0
        self.outage_since: float | None = None
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._stop_at: float | None = None  # closing: when to give up on an unavailable database
        self._patience = 0.0
        self._retry_at = 0.0
        self._flush_at = 0.0  # when the next transaction is due (if fewer than BATCH wait)
        self._backoff = MIN_BACKOFF
        self._thread = threading.Thread(
            target=self._run, name="plait-monitoring-writer", daemon=True
        )

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def put(self, event: object) -> None:
        """Queue an observer event (any thread; never blocks)."""
        self._queue.put(event)

    def put_many(self, events: list[TaskStateChanged]) -> None:
        """Queue a list of task state changes of one run, in order (any thread; never
        blocks); they are recorded together (:meth:`RowMaker.task_changes`)."""
        self._queue.put(events)

    def close(self, timeout: float) -> None:
        """Write everything queued: wait while records are being written, and at most
        ``timeout`` seconds for a database that takes none."""
        self._queue.put(_Stop(timeout))
        if not wait_while_progressing(self._joined, lambda: self.written, timeout + STUCK_GRACE):
            logger.error(
                "monitoring: the writer for %s is stuck in a database call; records it "
                "still holds in memory are lost (the ones in %s are kept)",
                shown(self.store.url),
                self.buffer.path,
            )
        self.store.dispose()

    def _joined(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the thread ------------------------------------------------------

    def _run(self) -> None:
        while True:
            now, stop_at = time.monotonic(), self._stop_at
            if stop_at is not None and not self.buffer and self._queue.empty():
                return
            if stop_at is not None and self.outage_since is not None and now >= stop_at:
                while not self._queue.empty():
                    self._take(0)
                self._give_up()
                return
            due = max(self._retry_at, self._flush_at if stop_at is None else 0.0)
            wait = max(0.0, due - now) if self.buffer else 1.0
            if stop_at is not None:
                wait = min(wait, max(0.0, stop_at - now))
            self._take(wait)
            now = time.monotonic()
            if (
                self.buffer
                and now >= self._retry_at
                and (now >= self._flush_at or stop_at is not None or len(self.buffer) >= BATCH)
            ):
                self._flush_at = now + FLUSH_EVERY
                self._write_batch()

    def _take(self, wait: float) -> None:
        """Move queued events into the buffer, waiting up to ``wait`` s for the first."""
        try:
            item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
        except queue.Empty:
            return
        for taken in range(1, DRAIN + 1):
            if type(item) is list:
                self._accept_task_changes(item)
            elif isinstance(item, _Stop):
                self._patience = item.patience
                self._stop_at = time.monotonic() + item.patience
            else:
                self._accept(item)
            if taken == DRAIN:
                return
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return

    def _accept(self, event: object) -> None:
        try:
            ops = self.rows.rows(event)
        except Exception:  # a bug: lose this one event, never the thread
            logger.exception("monitoring: cannot record %r", event)
            return
        for op in ops:
            self.buffer.append(op)

    def _accept_task_changes(self, events: list[TaskStateChanged]) -> None:
        try:
            ops = self.rows.task_changes(events)
        except Exception:  # a bug: lose these events, never the thread
            logger.exception("monitoring: cannot record %d task state changes", len(events))
            return
        for op in ops:
            self.buffer.append(op)

    def _write_batch(self) -> None:
        ops: list[Op] = []
        try:
            ops = self.buffer.peek(BATCH)
            self._write(ops)
        except SchemaError as exc:
            self._failed(exc, logging.ERROR)
            return
        except SQLAlchemyError as exc:
            self._failed(exc, logging.WARNING)
            return
        except Exception as exc:  # a bug here must not kill the thread that holds the records
            logger.exception("monitoring: writing %d records failed", len(ops))
            self._failed(exc, logging.ERROR)
            return
        self.buffer.drop(len(ops))
        self.written += len(ops)
        if self._stop_at is not None:  # closing: the database takes records, so keep going
            self._stop_at = time.monotonic() + self._patience
        logger.debug("monitoring: wrote %d records, %d waiting", len(ops), len(self.buffer))
        self._backoff = MIN_BACKOFF
        if self.outage_since is not None:
            logger.warning(
                "monitoring: %s takes records again after %.1f s; writing the %d that waited",
                shown(self.store.url),
                time.monotonic() - self.outage_since,
                len(self.buffer) + len(ops),
            )
            self.outage_since = None
            self.buffer.limit = self._outage_limit * BUSY_FACTOR

    def _write(self, ops: list[Op]) -> None:
        """Write ``ops``; if the database rejects the batch for its content, one by one.

        :raises SQLAlchemyError: only transient errors (see :func:`is_transient`).
        """
        try:
            self.store.write(ops)
        except SQLAlchemyError as exc:
            if is_transient(exc):
                raise
            self._write_one_by_one(ops)

    def _failed(self, error: Exception, level: int) -> None:
        """The database cannot take records now: keep them and retry later."""
        if self.outage_since is None:
            self.outage_since = time.monotonic()
            self.buffer.limit = self._outage_limit
            logger.log(
                level,
                "monitoring: cannot write to %s (%s); keeping records until it can",
                shown(self.store.url),
                first_line(error),
            )
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, MAX_BACKOFF)

    def _write_one_by_one(self, ops: list[Op]) -> None:
        """Write each operation alone; set aside the ones the database refuses.

        :raises SQLAlchemyError: the database became unreachable meanwhile (the
            batch stays in the buffer; operations written already are written
            again later, which changes nothing).
        """
        rejected: list[tuple[Op, str]] = []
        for op in ops:
            try:
                self.store.write([op])
            except SQLAlchemyError as exc:
                if is_transient(exc):
                    raise
                rejected.append((op, first_line(exc)))
        if not rejected:
            return
        fd = os.open(self.rejected_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for op, reason in rejected:
                f.write(json.dumps({"op": op, "error": reason}) + "\n")
        logger.error(
            "monitoring: %s refused %d records (first: %s); they are in %s",
            shown(self.store.url),
            len(rejected),
            rejected[0][1],
            self.rejected_path,
        )

    def _give_up(self) -> None:
        """The exit deadline passed with the database still unavailable: keep the rest on disk."""
        try:
            self.buffer.spill()
        except OSError as exc:
            logger.error(
                "monitoring: %d records for %s are lost: the database is unavailable and "
                "%s cannot be written (%s)",
                len(self.buffer),
                shown(self.store.url),
                self.buffer.path,
                exc,
            )
            return
        logger.warning(
            "monitoring: %d records could not be written to %s before the run ended; they "
            "are kept in %s. Load them once the database is back with: "
            "plait monitoring replay %s --db %s",
            len(self.buffer),
            shown(self.store.url),
            self.buffer.path,
            self.buffer.path,
            shown(self.store.url),
        )
