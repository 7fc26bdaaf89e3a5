"""An MPI worker: runs one MPI task at a time, in the environment its manager composed.

Started by the MPI manager with exec (``python -m plait_executor_mpi.worker``). It
speaks the HTEX worker protocol, except that each task arrives with the variables
of its node allocation (``PLAIT_MPI_PREFIX`` and the rest), which are set in
``os.environ`` while the task runs, so a bash app's command and any process the
task starts see them. A worker is given a task only when it is idle, so a task
never waits behind another here; the manager stops a running task (cancel,
walltime) by killing this worker's process tree, the ranks included.

A bash app whose MPI command fails raises :class:`~plait_executor_mpi.errors.
MPIExitFailure`: the :class:`~plait.errors.BashExitFailure` with the last lines the
ranks wrote to stderr in its message.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import zmq

from plait.app.bash import BashRunner
from plait.errors import BashExitFailure
from plait_executor_htex import protocol
from plait_executor_htex.worker import PARENT_CHECK_MS, run_task, watch_parent
from plait_executor_mpi.errors import MPIExitFailure
from plait_executor_mpi.stderr import tail

#: marks the end of the header BashRunner writes at the top of a stderr file
_HEADER_END = b"--> end executable <--\n"


def _stderr_path(spec: Any) -> tuple[str, bool] | None:
    """``(path, truncated)`` of a bash app's ``stderr=`` target, or None if unknown."""
    from plait.data_provider.files import File

    if isinstance(spec, File):
        return spec.filepath, True
    if isinstance(spec, str | os.PathLike):
        return os.fspath(spec), False
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str | os.PathLike):
        return os.fspath(spec[0]), spec[1] in ("w", "w+")
    return None


def _written_since(path: str, offset: int) -> bytes:
    """What the command wrote to ``path`` after ``offset``, without BashRunner's header."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return b""
    end = data.find(_HEADER_END)
    return data[end + len(_HEADER_END) :] if end >= 0 else data


def run_bash(runner: BashRunner, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run a bash app so that a failure carries the tail of its stderr.

    Without a ``stderr=`` target the command's stderr goes to a temporary file, copied
    to this worker's stderr afterwards (where it would have gone anyway).
    """
    target = _stderr_path(kwargs.get("stderr"))
    temporary = None
    if target is None:
        fd, temporary = tempfile.mkstemp(prefix="plait-mpi-stderr-")
        os.close(fd)
        path, offset = temporary, 0
        kwargs = {**kwargs, "stderr": temporary}
    else:
        path, truncated = target
        offset = 0 if truncated or not os.path.exists(path) else os.path.getsize(path)
    try:
        return runner(*args, **kwargs)
    except BashExitFailure as exc:
        raise MPIExitFailure(
            exc.app_name,
            exc.exitcode,
            exc.stdout,
            None if temporary else exc.stderr,
            tail(_written_since(path, offset)),
        ) from None
    finally:
        if temporary is not None:
            sys.stderr.buffer.write(_written_since(temporary, 0))
            sys.stderr.flush()
            os.unlink(temporary)


def call(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run one task's function (bash apps through :func:`run_bash`)."""
    if isinstance(func, BashRunner):
        return run_bash(func, args, kwargs)
    return func(*args, **kwargs)


def run_in_environment(payload: bytes, env: dict[str, str]) -> tuple[str, bytes]:
    """Run one packed task with ``env`` set, restoring the environment after."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        return run_task(payload, call)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def main(argv: list[str] | None = None) -> int:
    """Serve tasks until the manager says stop or goes away."""
    parser = argparse.ArgumentParser(prog="plait-mpi-worker")
    parser.add_argument("--port", type=int, required=True, help="the manager's worker port")
    parser.add_argument("--id", type=int, required=True, help="this worker's number")
    args = parser.parse_args(argv)
    parent = os.getppid()
    watch_parent(parent)
    context = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, f"w{args.id}".encode())
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"tcp://127.0.0.1:{args.port}")
    sock.send_multipart([protocol.READY, b""])
    try:
        while True:
            if not sock.poll(PARENT_CHECK_MS):
                if os.getppid() != parent:
                    return 0  # the manager died: do not linger as an orphan
                continue
            frames = protocol.recv(sock)
            if frames[0] == protocol.STOP:
                return 0
            if frames[0] != protocol.TASK:
                continue  # CANCEL: only ever for a task this worker already finished
            unpacked = protocol.unbatch(frames[1:])
            if unpacked is None:
                continue
            for (task_id, env), payload in zip(*unpacked, strict=True):
                started = time.time()  # when it began running, for monitors
                began = time.perf_counter()
                kind, packed = run_in_environment(payload, env)
                header = [(task_id, kind, time.perf_counter() - began, started)]
                sock.send_multipart(protocol.batch(protocol.RESULT, header, [packed]), copy=False)
    finally:
        sock.close(0)
        context.term()


if __name__ == "__main__":
    sys.exit(main())
