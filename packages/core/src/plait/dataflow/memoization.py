"""App caching (memoization) and checkpoint files.

A task of an app decorated with ``cache=True`` is identified by a hash of its
function's name and module and of its arguments (minus ``ignore_for_cache``).
A later task with the same hash gets the earlier result without running.
Checkpoints write successful results to ``<run_dir>/checkpoint/tasks.ckpt`` so a
later run can load them (``checkpoint_files=plait.get_all_checkpoints()``).

Checkpoint files are append-only streams of framed records (length, CRC32,
pickle). A process killed mid-write leaves at most one torn record at the end,
which loading skips with a warning; a run never fails because of it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import struct
import threading
import types
import warnings
import zlib
from collections.abc import Sequence
from concurrent.futures import Future
from functools import singledispatch
from typing import TYPE_CHECKING, Any

from plait.errors import BadCheckpoint, ConfigError
from plait.utils import hms_to_seconds

if TYPE_CHECKING:
    from plait.dataflow.taskrecord import TaskRecord

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_FILE = "tasks.ckpt"
_FRAME = struct.Struct("<II")  # payload length, crc32 of payload
CHECKPOINT_MODES = ("task_exit", "periodic", "dfk_exit", "manual")


@singledispatch
def id_for_memo(obj: object, output_ref: bool = False) -> bytes:
    """Bytes identifying ``obj`` for the memoization hash.

    Extend it for your own types with ``@id_for_memo.register``.

    :raises ValueError: ``obj``'s type has no registered identity.
    """
    raise ValueError(
        f"cannot compute a cache key for an argument of type {type(obj).__qualname__}; "
        "register one with @plait.dataflow.memoization.id_for_memo.register, or list the "
        "argument in ignore_for_cache"
    )


@id_for_memo.register(str)
@id_for_memo.register(int)
@id_for_memo.register(float)
@id_for_memo.register(bool)
@id_for_memo.register(bytes)
@id_for_memo.register(type(None))
def _id_plain(obj: object, output_ref: bool = False) -> bytes:
    return pickle.dumps(obj)


@id_for_memo.register(list)
@id_for_memo.register(tuple)
def _id_sequence(seq: Sequence[Any], output_ref: bool = False) -> bytes:
    if type(seq) not in (list, tuple):
        raise ValueError(f"cannot compute a cache key for a {type(seq).__qualname__} subclass")
    return pickle.dumps([type(seq).__name__, [id_for_memo(x, output_ref) for x in seq]])


@id_for_memo.register(dict)
def _id_dict(d: dict[Any, Any], output_ref: bool = False) -> bytes:
    if type(d) is not dict:
        raise ValueError(f"cannot compute a cache key for a {type(d).__qualname__} subclass")
    items = sorted((id_for_memo(k, output_ref), id_for_memo(v, output_ref)) for k, v in d.items())
    return pickle.dumps(["dict", items])


@id_for_memo.register(set)
@id_for_memo.register(frozenset)
def _id_set(s: set[Any], output_ref: bool = False) -> bytes:
    return pickle.dumps(["set", sorted(id_for_memo(x, output_ref) for x in s)])


@id_for_memo.register(types.FunctionType)
def _id_function(f: types.FunctionType, output_ref: bool = False) -> bytes:
    return pickle.dumps(["function", f.__module__, f.__qualname__])


def _register_file() -> None:
    from plait.data_provider.files import File

    @id_for_memo.register(File)
    def _id_file(f: File, output_ref: bool = False) -> bytes:
        return pickle.dumps(["File", f.url])


_register_file()


def _register_bash_runner() -> None:
    from plait.app.bash import BashRunner

    # A bash_app's task runs a BashRunner around the user's body: key on the body.
    @id_for_memo.register(BashRunner)
    def _id_bash_runner(runner: BashRunner, output_ref: bool = False) -> bytes:
        return pickle.dumps(["bash_app", id_for_memo(runner.func, output_ref)])


_register_bash_runner()


def make_hash(task: TaskRecord) -> str:
    """The cache key of ``task``: its function and arguments, minus ignored keywords."""
    kwargs = dict(task.kwargs or {})
    for name in task.ignore_for_cache:
        kwargs.pop(name, None)
    outputs = kwargs.pop("outputs", [])
    parts = [
        id_for_memo(outputs, output_ref=True),
        id_for_memo(kwargs),
        id_for_memo(task.func),
        id_for_memo(list(task.args or ())),
    ]
    return hashlib.blake2b(b"".join(parts), digest_size=16).hexdigest()


class Memoizer:
    """Interface of a memoizer: the object behind ``Config(memoizer=...)``."""

    def start(self, *, run_dir: str, config_run_dir: str) -> None:
        """Called once when the DataFlowKernel starts."""

    def check_memo(self, task: TaskRecord) -> Future[Any] | None:
        """A finished future with the cached outcome of ``task``, or None."""
        return None

    def update_memo_result(self, task: TaskRecord, result: Any) -> None:
        """``task`` succeeded with ``result``."""

    def update_memo_exception(self, task: TaskRecord, exception: BaseException) -> None:
        """``task`` failed with ``exception``."""

    def checkpoint(self) -> None:
        """Write pending results to the checkpoint file now."""

    def close(self) -> None:
        """Called once when the DataFlowKernel cleans up."""


class BasicMemoizer(Memoizer):
    """In-memory cache of app results, optionally checkpointed to disk.

    :param checkpoint_files: checkpoint directories to load results from (see
        :func:`plait.get_all_checkpoints`).
    :param checkpoint_period: ``"HH:MM:SS"`` or seconds, for ``periodic`` mode.
    :param checkpoint_mode: ``task_exit`` (write each result as its task ends),
        ``periodic``, ``dfk_exit`` or ``manual`` (:meth:`checkpoint`), or None for
        no checkpoint file.
    :param memoize: False turns caching off for every app.
    """

    def __init__(
        self,
        *,
        checkpoint_files: Sequence[str] | None = None,
        checkpoint_period: str | float | None = None,
        checkpoint_mode: str | None = None,
        memoize: bool = True,
    ) -> None:
        if checkpoint_mode is not None and checkpoint_mode not in CHECKPOINT_MODES:
            raise ConfigError("checkpoint_mode", checkpoint_mode, [*CHECKPOINT_MODES, "None"])
        if checkpoint_mode == "periodic" and checkpoint_period is None:
            raise ConfigError(
                "checkpoint_period",
                None,
                "a period such as '00:05:00' or 300",
                "checkpoint_mode='periodic' needs a checkpoint_period",
            )
        self.checkpoint_files = checkpoint_files
        self.checkpoint_period = checkpoint_period
        self.checkpoint_mode = checkpoint_mode
        self.memoize = memoize
        self._table: dict[str, Future[Any]] = {}
        self._unwritten: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        self._file: Any = None
        self._path: str | None = None
        self._timer: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return (
            f"BasicMemoizer(checkpoint_files={self.checkpoint_files!r}, "
            f"checkpoint_period={self.checkpoint_period!r}, "
            f"checkpoint_mode={self.checkpoint_mode!r}, memoize={self.memoize!r})"
        )

    def start(self, *, run_dir: str, config_run_dir: str) -> None:
        """Load checkpoint files and prepare this run's checkpoint file."""
        files = self.checkpoint_files
        if files is None and self.checkpoint_mode is not None:
            files = get_all_checkpoints(config_run_dir)
        for directory in files or ():
            for key, result in load_checkpoint(directory):
                fut: Future[Any] = Future()
                fut.set_result(result)
                self._table[key] = fut
        if self.checkpoint_mode is not None:
            directory = os.path.join(run_dir, CHECKPOINT_DIR)
            os.makedirs(directory, exist_ok=True)
            self._path = os.path.join(directory, CHECKPOINT_FILE)
        if self.checkpoint_mode == "periodic":
            assert self.checkpoint_period is not None
            period = hms_to_seconds(self.checkpoint_period)
            self._timer = threading.Event()
            self._thread = threading.Thread(
                target=self._periodic,
                args=(period, self._timer),
                name="plait-checkpoint",
                daemon=True,
            )
            self._thread.start()

    def _periodic(self, period: float, stop: threading.Event) -> None:
        while not stop.wait(period):
            self.checkpoint()

    def check_memo(self, task: TaskRecord) -> Future[Any] | None:
        """The cached outcome of an identical earlier task, if any."""
        if not (self.memoize and task.memoize):
            return None
        task.hashsum = make_hash(task)
        return self._table.get(task.hashsum)

    def update_memo_result(self, task: TaskRecord, result: Any) -> None:
        """Cache a success and, by checkpoint mode, write it."""
        if not (self.memoize and task.memoize) or task.hashsum is None or task.from_memo:
            return
        fut: Future[Any] = Future()
        fut.set_result(result)
        self._table[task.hashsum] = fut
        if self._path is None:
            return
        with self._lock:
            self._unwritten.append((task.hashsum, result))
        if self.checkpoint_mode == "task_exit":
            self.checkpoint()

    def update_memo_exception(self, task: TaskRecord, exception: BaseException) -> None:
        """Cache a failure in memory (failures are never checkpointed)."""
        if not (self.memoize and task.memoize) or task.hashsum is None or task.from_memo:
            return
        fut: Future[Any] = Future()
        fut.set_exception(exception)
        self._table[task.hashsum] = fut

    def checkpoint(self) -> None:
        """Append every result not yet written to this run's checkpoint file."""
        if self._path is None:
            return
        with self._lock:
            pending, self._unwritten = self._unwritten, []
            if not pending:
                return
            if self._file is None:
                self._file = open(self._path, "ab")  # noqa: SIM115 - kept open across calls
            for key, result in pending:
                try:
                    payload = pickle.dumps((key, result))
                except Exception as exc:
                    logger.warning("result of task %s cannot be checkpointed: %s", key, exc)
                    continue
                self._file.write(_FRAME.pack(len(payload), zlib.crc32(payload)) + payload)
            self._file.flush()

    def close(self) -> None:
        """Write what is pending and close the checkpoint file."""
        if self._timer is not None:
            self._timer.set()
            if self._thread is not None:
                self._thread.join(5)
        if self.checkpoint_mode in ("task_exit", "periodic", "dfk_exit"):
            self.checkpoint()
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def load_checkpoint(directory: str) -> list[tuple[str, Any]]:
    """The ``(key, result)`` records in checkpoint directory ``directory``.

    A torn record at the end (a process killed mid-write) is skipped with a warning.

    :raises BadCheckpoint: the directory has no checkpoint file, or a record in the
        middle of the file is corrupt.
    """
    path = os.path.join(directory, CHECKPOINT_FILE)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise BadCheckpoint(
            f"cannot read checkpoint {path}: {exc.strerror}; pass directories returned by "
            "plait.get_all_checkpoints() or plait.get_last_checkpoint()"
        ) from exc
    records: list[tuple[str, Any]] = []
    offset = 0
    while offset < len(data):
        header_end = offset + _FRAME.size
        if header_end > len(data):
            _warn_torn(path, offset)
            break
        length, crc = _FRAME.unpack_from(data, offset)
        payload = data[header_end : header_end + length]
        if len(payload) < length or zlib.crc32(payload) != crc:
            if header_end + length >= len(data):
                _warn_torn(path, offset)
                break
            raise BadCheckpoint(f"checkpoint {path} is corrupt at byte {offset}")
        records.append(pickle.loads(payload))
        offset = header_end + length
    return records


def _warn_torn(path: str, offset: int) -> None:
    warnings.warn(
        f"checkpoint {path} ends with an incomplete record at byte {offset} (the writing "
        "process was killed); that one result is skipped",
        RuntimeWarning,
        stacklevel=3,
    )


def get_all_checkpoints(rundir: str = "runinfo") -> list[str]:
    """Every checkpoint directory under run directory root ``rundir``, oldest first."""
    if not os.path.isdir(rundir):
        return []
    found = []
    for entry in sorted(os.listdir(rundir), key=_run_number):
        directory = os.path.join(rundir, entry, CHECKPOINT_DIR)
        if os.path.isfile(os.path.join(directory, CHECKPOINT_FILE)):
            found.append(os.path.abspath(directory))
    return found


def get_last_checkpoint(rundir: str = "runinfo") -> list[str]:
    """The checkpoint directory of the latest run under ``rundir``, as a list (empty if none)."""
    found = get_all_checkpoints(rundir)
    return found[-1:]


def _run_number(entry: str) -> tuple[int, str]:
    return (int(entry), entry) if entry.isdigit() else (-1, entry)
