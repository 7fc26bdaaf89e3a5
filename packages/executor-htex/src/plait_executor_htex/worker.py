"""An HTEX worker: one process that runs one task at a time for its manager.

Started by the manager with exec (``python -m plait_executor_htex.worker``), it
connects to the manager's loopback port, asks for work, and exits as soon as its
manager is gone, so a killed pilot job leaves no worker behind.

The manager may hand it several tasks at once (more while it runs, when tasks
are short); they run in order. Results go back in batches, each with the time
its task ran (the manager paces what it hands out by it) and when it started (so
monitors learn when it ran without a message of its own): whenever the worker
runs out of tasks, and before starting a task once the oldest unsent result is
``FLUSH_AFTER`` seconds old, so a slow task is never left holding others'
results. Before each task the worker takes in any messages that arrived, so a
cancelled task that has not started is dropped without running.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, cast

import zmq

from plait.errors import SerializationError
from plait.resources import sampler
from plait.serialize import pack, unpack_apply
from plait_executor_htex import protocol
from plait_executor_htex.errors import RemoteError
from plait_executor_htex.procs import kill_tree

#: how often a waiting worker checks that its manager is still alive (ms)
PARENT_CHECK_MS = 1000
#: results older than this are sent before the next task starts (seconds)
FLUSH_AFTER = 0.002


def run_task(
    payload: bytes,
    call: Callable[[Callable[..., Any], tuple[Any, ...], dict[str, Any]], Any] | None = None,
) -> tuple[str, bytes]:
    """Run one packed call; return ``(kind, packed outcome)``.

    :param call: runs ``(func, args, kwargs)`` instead of a plain call, for workers that
        wrap some tasks (the MPI worker captures a bash app's stderr).
    """
    try:
        func, args, kwargs = unpack_apply(payload)
        result = func(*args, **kwargs) if call is None else call(func, args, kwargs)
    except BaseException as exc:  # the task's own failure travels back
        return protocol.RESULT_ERR, pack_exception(exc)
    try:
        return protocol.RESULT_OK, pack(result)
    except SerializationError as exc:
        name = getattr(func, "__name__", "app")
        error = SerializationError(
            f"the result of app {name}, type {type(result).__qualname__}", exc.reason
        )
        return protocol.RESULT_ERR, pack_exception(error)


def run_timed(
    task_id: int, payload: bytes, running: list[tuple[int, float] | None]
) -> tuple[protocol.ResultEntry, bytes]:
    """Run one packed task and time it: its result header entry and packed outcome.

    Two clocks: the run time (monotonic) paces the hand-outs; the start (wall clock,
    as the kernel records times) tells monitors when the task began running. While
    the task runs, ``running[0]`` holds its id and start for the resource sampler.
    """
    started = time.time()
    running[0] = (task_id, started)
    began = time.perf_counter()
    kind, packed = run_task(payload)
    seconds = time.perf_counter() - began
    running[0] = None
    return (task_id, kind, seconds, started), packed


def pack_exception(exc: BaseException) -> bytes:
    """``exc`` packed, or a :class:`RemoteError` describing it if it cannot be."""
    try:
        return pack(exc)
    except SerializationError:
        trace = "".join(traceback.format_exception(exc))
        return pack(RemoteError(type(exc).__qualname__, str(exc), trace))


def watch_parent(parent: int) -> None:
    """Exit, with every process this worker started, as soon as the manager is gone, even
    while a task is running (a daemon thread, so it needs no help from the task)."""
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(PARENT_CHECK_MS / 1000):
            if os.getppid() != parent:
                kill_tree(os.getpid(), include_root=False)
                os._exit(1)

    threading.Thread(target=watch, name="plait-worker-watchdog", daemon=True).start()


class ResourceSampler:
    """Samples this worker (and what its task started) every ``--resource-interval``
    seconds while a task runs, and sends each sample to the manager on a socket of its
    own (a thread: the task holds the worker's main thread). Nothing when psutil is
    missing (logged once)."""

    def __init__(
        self,
        context: zmq.Context[Any],
        args: argparse.Namespace,
        running: list[tuple[int, float] | None],
    ):
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run,
            args=(context, args.port, args.id, args.resource_interval, running),
            name="plait-worker-resources",
            daemon=True,
        )
        self._thread.start()

    def _run(
        self,
        context: zmq.Context[Any],
        port: int,
        index: int,
        interval: float,
        running: list[tuple[int, float] | None],
    ) -> None:
        sample = sampler()
        if sample is None:
            return
        sock = context.socket(zmq.DEALER)
        sock.setsockopt(zmq.IDENTITY, f"w{index}r".encode())
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(f"tcp://127.0.0.1:{port}")
        try:
            while not self._stop.wait(interval):
                current = running[0]  # one read: the id and start of the same task
                if current is not None:
                    task_id, started = current
                    body = protocol.dumps((task_id, started, sample()))
                    sock.send_multipart([protocol.RESOURCE, body])
        finally:
            sock.close(0)

    def stop(self) -> None:
        """Stop sampling and close the socket (before the context is terminated)."""
        self._stop.set()
        self._thread.join(timeout=PARENT_CHECK_MS / 1000)


def main(argv: list[str] | None = None) -> int:
    """Serve tasks until the manager goes away."""
    parser = argparse.ArgumentParser(prog="plait-htex-worker")
    parser.add_argument("--port", type=int, required=True, help="the manager's worker port")
    parser.add_argument("--id", type=int, required=True, help="this worker's number")
    parser.add_argument(
        "--resource-interval", type=float, default=0.0, help="seconds between resource samples"
    )
    args = parser.parse_args(argv)
    parent = os.getppid()
    watch_parent(parent)
    context = zmq.Context()
    # the task running now and when it started, for the resource sampler
    running: list[tuple[int, float] | None] = [None]
    sampling = ResourceSampler(context, args, running) if args.resource_interval > 0 else None
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, f"w{args.id}".encode())
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"tcp://127.0.0.1:{args.port}")
    sock.send_multipart([protocol.READY, b""])
    queue: collections.deque[tuple[int, Any]] = collections.deque()
    header: list[protocol.ResultEntry] = []  # (task id, result kind, seconds, started)
    data: list[bytes] = []
    oldest = 0.0
    try:
        while True:
            if not queue:
                if header:
                    sock.send_multipart(protocol.batch(protocol.RESULT, header, data), copy=False)
                    header, data = [], []
                if not sock.poll(PARENT_CHECK_MS):
                    if os.getppid() != parent:
                        return 0  # the manager died: do not linger as an orphan
                    continue
            while cast(int, sock.get(zmq.EVENTS)) & zmq.POLLIN:  # cheaper than poll(0)
                frames = protocol.recv(sock)
                kind = frames[0]
                if kind == protocol.STOP:
                    return 0
                if kind == protocol.TASK:
                    unpacked = protocol.unbatch(frames[1:])
                    if unpacked is not None:
                        queue.extend(zip(*unpacked, strict=True))
                elif kind == protocol.CANCEL:
                    dropped = set(protocol.loads(frames[1]))
                    queue = collections.deque(t for t in queue if t[0] not in dropped)
            if not queue:
                continue
            if header and time.monotonic() - oldest > FLUSH_AFTER:
                sock.send_multipart(protocol.batch(protocol.RESULT, header, data), copy=False)
                header, data = [], []
            task_id, payload = queue.popleft()
            entry, packed = run_timed(task_id, payload, running)
            if not header:
                oldest = time.monotonic()
            header.append(entry)
            data.append(packed)
    finally:
        if sampling is not None:
            sampling.stop()
        sock.close(0)
        context.term()


if __name__ == "__main__":
    sys.exit(main())
