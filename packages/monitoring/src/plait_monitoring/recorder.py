"""The recorder process: a hub's writer, on a CPU of its own.

Turning a busy workflow's events into rows and writing them costs more CPU than
the workflow itself spends on each task; done in the workflow's process it
would compete for the same interpreter lock and halve the throughput. So each
hub starts one recorder (``python -m plait_monitoring.recorder``, exec-started
like every process plait starts) and sends it, through its stdin, plain
messages (:mod:`plait_monitoring.channel`):

- first, the settings: a dict of the database URL, run id and directory,
  workflow name and version, buffer bound, exit patience, whether to log at
  DEBUG and the CPU niceness to take;
- ``("tasks", entries)``: task journal entries (:mod:`plait.journal`), read
  back into events here;
- ``("event", type_name, fields)``: one of the rarer events of
  :mod:`plait.events`, by its type's name and field values;
- ``("close", patience)``: write everything, waiting at most ``patience``
  seconds for a database that takes nothing, then exit.

It answers on its stdout first with ``("ready", problem)`` once it has checked
(or created) the database's schema: ``problem`` is None, or ``(error type name,
message)`` when it cannot record into that database at all (another schema),
after which it exits; a database it cannot reach now is not a problem (records
wait for it). The hub waits for this answer, so a wrong database still fails
``load()``, while SQLAlchemy and Alembic stay out of the workflow's process.
Then ``("log", level, logger, message)`` for each
record of its ``plait.monitoring`` logger (the hub logs them again, so they
reach the workflow's handlers) and ``("status", written, outage)`` whenever
the number of records written or the database's availability changes. If the
workflow's process goes away (stdin closes), it writes what it has and exits
the same way.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
from typing import IO, TYPE_CHECKING, Any

from plait import events as event_types
from plait.journal import JournalReader
from plait_monitoring.channel import read_frame, write_frame

if TYPE_CHECKING:
    from plait_monitoring.db.store import Store

logger = logging.getLogger("plait.monitoring")

#: seconds between two checks of whether progress is worth reporting
STATUS_EVERY = 0.1
#: the cyclic GC's thresholds here (Python's are 700, 10, 10): the recorder makes and
#: drops tens of thousands of tuples a second, hardly any in a cycle, and a young
#: collection every 700 of them took half the time it spends reading entries and
#: making rows
GC_THRESHOLDS = (50_000, 20, 100)


class _Replies:
    """The recorder's stdout: frames from several threads, one at a time."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: Any) -> None:
        with self._lock:
            try:
                write_frame(self._stream, message)
            except (OSError, ValueError):
                pass  # the hub has gone: nobody is left to tell


class _ForwardLogs(logging.Handler):
    """Sends each log record to the hub, which logs it again in the workflow's process."""

    def __init__(self, replies: _Replies, level: int) -> None:
        super().__init__(level)
        self._replies = replies

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        self._replies.send(("log", record.levelno, record.name, message))


def _event(type_name: str, fields: list[Any]) -> object:
    """The event of type ``type_name`` (a name in :mod:`plait.events`) with ``fields``."""
    kind = getattr(event_types, type_name, None)
    if not isinstance(kind, type):
        raise ValueError(f"not an event type of plait.events: {type_name!r}")
    return kind(*fields)


def _report_progress(writer: Any, replies: _Replies, stop: threading.Event) -> None:
    """Tell the hub whenever the records written or the database's availability change."""
    last: tuple[int, bool] | None = None
    while True:
        stopping = stop.wait(STATUS_EVERY)
        now = (writer.written, writer.outage_since is not None)
        if now != last:
            replies.send(("status", *now))
            last = now
        if stopping:
            return


def _ready_store(url: str) -> Store:
    """A store for ``url`` whose schema is checked (created in an empty database), or
    one that checks it on its first write if the database cannot be reached now.

    :raises Exception: the database cannot be recorded into (another schema, a URL
        SQLAlchemy refuses, a refused statement).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from plait_monitoring.db.engine import parse_url, shown
    from plait_monitoring.db.store import Store, is_transient
    from plait_monitoring.errors import first_line

    store = Store(parse_url(url))
    try:
        store.ensure_schema()
    except Exception as exc:
        if not (isinstance(exc, SQLAlchemyError) and is_transient(exc)):
            store.dispose()
            raise
        logger.warning(
            "monitoring: %s is not reachable now (%s); records wait until it is",
            shown(store.url),
            first_line(exc),
        )
    return store


def run(stdin: IO[bytes], stdout: IO[bytes]) -> int:
    """Record what arrives on ``stdin`` until told to close or until it ends."""
    from plait_monitoring.buffer import SpillBuffer
    from plait_monitoring.hub import REJECTED_FILE, SPILL_FILE
    from plait_monitoring.rows import RowMaker
    from plait_monitoring.writer import Writer

    settings = read_frame(stdin)
    if not isinstance(settings, dict):
        return 2
    if settings["niceness"]:
        os.nice(settings["niceness"])
    replies = _Replies(stdout)
    level = logging.DEBUG if settings["debug"] else logging.INFO
    logger.addHandler(_ForwardLogs(replies, level))
    logger.setLevel(level)
    logger.propagate = False
    run_dir = settings["run_dir"]
    try:
        store = _ready_store(settings["url"])
    except Exception as exc:
        replies.send(("ready", (type(exc).__name__, str(exc))))
        return 0  # the hub reports it
    replies.send(("ready", None))
    # what is loaded now (SQLAlchemy, Alembic) lives as long as the process: no
    # collection need walk it again
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    writer = Writer(
        store,
        RowMaker(settings["workflow_name"], settings["workflow_version"]),
        SpillBuffer(os.path.join(run_dir, SPILL_FILE), settings["max_buffered_records"]),
        os.path.join(run_dir, REJECTED_FILE),
    )
    writer.start()
    stop = threading.Event()
    reporter = threading.Thread(
        target=_report_progress, args=(writer, replies, stop), name="plait-recorder-status"
    )
    reporter.start()
    reader = JournalReader(settings["run_id"])
    patience = settings["exit_timeout"]
    while True:
        try:
            message = read_frame(stdin)
        except (EOFError, OSError) as exc:
            logger.error("monitoring: the hub's messages broke off (%s); writing what came", exc)
            break
        if message is None:
            logger.warning("monitoring: the workflow's process went away; writing what came")
            break
        kind = message[0]
        try:
            if kind == "tasks":
                writer.put_many(reader.events(message[1]))
            elif kind == "event":
                writer.put(_event(message[1], message[2]))
            elif kind == "close":
                patience = message[1]
                break
            else:
                raise ValueError(f"unknown message {kind!r}")
        except Exception:  # a bug: lose this message, never the rest
            logger.exception("monitoring: cannot record the message %.200r", message)
    writer.close(patience)
    stop.set()
    reporter.join()
    if reader.skipped:
        logger.warning(
            "monitoring: %d task states of tasks submitted before the hub started were not "
            "recorded",
            reader.skipped,
        )
    return 0


def main() -> None:
    """``python -m plait_monitoring.recorder``: started by a hub, never by hand."""
    sys.exit(run(sys.stdin.buffer, sys.stdout.buffer))


if __name__ == "__main__":
    main()
