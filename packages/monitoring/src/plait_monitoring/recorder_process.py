"""The workflow's side of a hub's recorder process (:mod:`plait_monitoring.recorder`).

One thread, the sender, wakes every :data:`SEND_EVERY` seconds, takes what the
run's task journal gathered and the rarer events the hub's hooks queued, and
writes them to the recorder's stdin in one message each: the workflow's
threads only append to the journal. Another thread reads the recorder's
answers: whether it can record into its database at all
(:meth:`RecorderProcess.wait_ready`), its log records, logged again here so
they reach the workflow's log handlers, and its progress
(:attr:`RecorderProcess.written`, :attr:`RecorderProcess.outage_since`).
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import subprocess
import sys
import threading
import time
from typing import Any

from plait.journal import TaskJournal
from plait_monitoring.channel import encode, read_frame, write_frame
from plait_monitoring.patience import wait_while_progressing

logger = logging.getLogger("plait.monitoring")

#: seconds between two messages to the recorder: often enough that rows reach the
#: database well within a second, rarely enough that each message carries thousands
#: of entries while a workflow is busy
SEND_EVERY = 0.05
#: how long past its patience close() waits for a recorder stuck in one database call
#: (each is bounded by the engine's lock and connect timeouts)
STUCK_GRACE = 10.0
#: how long close() waits for a recorder to exit once it was told to, or killed
EXIT_GRACE = 5.0


def event_fields(event: Any) -> list[Any]:
    """The field values of an event of :mod:`plait.events`, in order, as plain values."""
    if dataclasses.is_dataclass(event):
        return [getattr(event, f.name) for f in dataclasses.fields(event)]
    return list(event)  # a NamedTuple


class RecorderProcess:
    """Starts a recorder and feeds it one run's journal and events.

    :param settings: the recorder's settings (see :mod:`plait_monitoring.recorder`).
    """

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        #: records the recorder has written so far
        self.written = 0
        #: when (``time.monotonic()``) the database stopped taking records, or None
        self.outage_since: float | None = None
        self._journal: TaskJournal | None = None
        self._events: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._problem: tuple[str, str] | None = None
        self._broken = False
        self._process: subprocess.Popen[bytes] | None = None
        self._sender: threading.Thread | None = None
        self._listener: threading.Thread | None = None

    def start(self) -> None:
        """Start the recorder process and the threads that talk to it."""
        process = subprocess.Popen(
            [sys.executable, "-m", "plait_monitoring.recorder"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        self._process = process
        assert process.stdin is not None
        write_frame(process.stdin, self.settings)
        self._listener = threading.Thread(
            target=self._listen, name="plait-monitoring-listener", daemon=True
        )
        self._listener.start()
        self._sender = threading.Thread(
            target=self._send_loop, name="plait-monitoring-sender", daemon=True
        )
        self._sender.start()

    def wait_ready(self, timeout: float) -> tuple[str, str] | None:
        """Wait (at most ``timeout`` seconds) until the recorder has checked its
        database's schema; None if it records, else ``(error type name, message)``
        of why it cannot (it has exited then: :meth:`discard` it).

        :raises TimeoutError: no answer within ``timeout`` seconds.
        """
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the recorder did not answer within {timeout:g} s")
        return self._problem

    def discard(self) -> None:
        """Stop a recorder that cannot record (see :meth:`wait_ready`), quietly."""
        self._broken = True  # nothing more is sent
        self.close(0)

    def attach(self, journal: TaskJournal) -> None:
        """Send the entries of ``journal`` from now on."""
        self._journal = journal

    def put(self, event: object) -> None:
        """Send ``event`` (any thread; never blocks)."""
        self._events.put(event)

    def close(self, timeout: float) -> None:
        """Send what is left and have the recorder write everything: wait while records
        are being written, and at most ``timeout`` seconds for a database that takes none."""
        process = self._process
        if process is None or self._stop.is_set():
            return
        self._stop.set()
        if self._sender is not None:
            self._sender.join()
        self._send_pending()
        self._send(("close", timeout))
        assert process.stdin is not None
        try:
            process.stdin.close()
        except OSError:
            pass
        self._wait_for_exit(process, timeout)
        if self._listener is not None:
            self._listener.join(EXIT_GRACE)

    # -- sending -----------------------------------------------------------

    def _send_loop(self) -> None:
        while not self._stop.wait(SEND_EVERY):
            self._send_pending()

    def _send_pending(self) -> None:
        """Send the queued events, then the journal's new entries: the run's
        ``workflow`` row, which every other row refers to, is queued before any task
        exists, so it is always written first."""
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                break
            self._send(("event", type(event).__name__, event_fields(event)))
        journal = self._journal
        if journal is not None and len(journal):
            self._send(("tasks", journal.take()))

    def _send(self, message: Any) -> None:
        process = self._process
        if self._broken or process is None or process.stdin is None:
            return
        try:
            frame = encode(message)
        except ValueError:  # a bug: lose this message, never the rest
            logger.exception("monitoring: cannot send %.200r to the recorder", message)
            return
        try:
            process.stdin.write(frame)
            process.stdin.flush()
        except (OSError, ValueError) as exc:  # ValueError: the pipe was closed
            self._broken = True
            logger.error(
                "monitoring: the recorder process of run %s has gone (%s; its error, if any, "
                "is on stderr above); this run's records from now on are not written",
                self.settings["run_id"],
                exc,
            )

    # -- answers -----------------------------------------------------------

    def _listen(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        stream = process.stdout
        try:
            self._answers(stream)
        finally:
            if not self._ready.is_set():  # it ended before it could say
                self._problem = ("RecorderError", "the recorder process ended at its start")
                self._ready.set()

    def _answers(self, stream: Any) -> None:
        while True:
            try:
                message = read_frame(stream)
            except (EOFError, OSError):
                return
            if message is None:
                return
            kind = message[0]
            if kind == "ready":
                problem = message[1]
                self._problem = None if problem is None else (problem[0], problem[1])
                self._ready.set()
            elif kind == "log":
                _, level, name, text = message
                logging.getLogger(name).log(level, "%s", text)
            elif kind == "status":
                _, self.written, outage = message
                if not outage:
                    self.outage_since = None
                elif self.outage_since is None:
                    self.outage_since = time.monotonic()

    def _wait_for_exit(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        """Wait while the recorder makes progress; kill it once it has made none for
        ``timeout`` + :data:`STUCK_GRACE` seconds."""

        def exited(step: float) -> bool:
            try:
                process.wait(step)
            except subprocess.TimeoutExpired:
                return False
            return True

        if not wait_while_progressing(exited, lambda: self.written, timeout + STUCK_GRACE):
            logger.error(
                "monitoring: the recorder of run %s is stuck in a database call; "
                "stopping it (records it still held in memory are lost; the ones in "
                "its spill file are kept)",
                self.settings["run_id"],
            )
            process.kill()
            process.wait(EXIT_GRACE)
        if process.returncode not in (0, None):
            logger.error(
                "monitoring: the recorder of run %s exited with status %s",
                self.settings["run_id"],
                process.returncode,
            )
