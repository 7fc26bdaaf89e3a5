"""Wire protocol shared by the executor, the interchange, managers and workers.

Every message is a ZeroMQ multipart message ``[kind, body]``: ``kind`` is one of
the short byte strings below; ``body`` is JSON for messages a peer sends before
it has authenticated (so nothing untrusted is ever unpickled) and pickle after.
Task payloads and results are opaque bytes made by :mod:`plait.serialize`; a batch
of them travels as ``[kind, header, large, large, ...]``: small payloads ride
inside the pickled header (one frame for the whole batch), payloads of
``LARGE`` bytes or more get a frame of their own, so no hop re-pickles a large
argument or result, and relays receive large frames without copying them
(:func:`recv`).

Channels:

* executor -> interchange: ``HELLO`` (JSON token), ``TASKS`` [(id, priority,
  resources, payload)], ``CANCEL`` [id], ``HB``, ``STOP``;
* interchange -> executor: ``RESULTS`` [(id, kind, started, block_id)], ``STATUS``
  {blocks}, ``REFUSED`` (a manager was refused: message);
* manager -> interchange: ``REG`` (JSON registration), ``HB``, ``RESULTS`` [(id, kind,
  seconds, started)], ``DRAIN``;
* interchange -> manager: ``OK``, ``REFUSED`` (JSON reason), ``TASKS`` [(id,
  resources, payload)], ``CANCEL`` [id], ``HB``, ``STOP``, ``DRAIN`` (the answer to a
  manager's ``DRAIN``: nothing more will be sent, so a draining manager exits once idle);
* worker <-> manager: ``READY``; ``TASK`` (id, payload); ``RESULT`` (id, kind, seconds,
  started, data); from a worker's resource sampler (its own socket, identity ``w<N>r``):
  ``RESOURCE`` (id, started, sample);
* resource samples travel on as ``RESOURCES`` [(id, started, sample)], manager ->
  interchange, and ``RESOURCES`` (block_id, [(id, started, sample)]), interchange ->
  executor; the interchange tells the executor of managers joining and leaving with
  ``NODE`` {hostname, uid, block_id, cpu_count, total_memory, workers, python, active}.

``resources`` is None for a task without a resource specification, else what the
executor's ``task_resources`` made of it for the manager (HTEX: the walltime); the
interchange passes it on untouched.

``seconds`` is how long the task ran (None for one that never ran: cancelled,
lost); managers and the interchange pace their hand-outs by it. ``started`` is
when its body began (``time.time()`` on the worker's node; None if unknown) and
``block_id`` the block of the manager it ran in: the executor tells the kernel the
task ran (``Executor.on_task_running``) from them, from the first resource sample
of a long task or else with its result, so no message is sent for it alone. The
interchange adds ``block_id``, since it knows which manager each batch came from.

Result kinds: ``ok`` (data = packed result), ``err`` (data = packed exception).
"""

from __future__ import annotations

import json
import pickle
import platform
from typing import Any

import zmq

HELLO = b"HELLO"
TASKS = b"TASKS"
CANCEL = b"CANCEL"
HB = b"HB"
STOP = b"STOP"
RESULTS = b"RESULTS"
STATUS = b"STATUS"
REFUSED = b"REFUSED"
REG = b"REG"
OK = b"OK"
DRAIN = b"DRAIN"
HOLD = b"HOLD"
READY = b"READY"
TASK = b"TASK"
RESULT = b"RESULT"
RESOURCE = b"RESOURCE"
RESOURCES = b"RESOURCES"
NODE = b"NODE"

RESULT_OK = "ok"
RESULT_ERR = "err"
#: a task the manager dropped on request: frees its slot, never reaches a future
RESULT_CANCELLED = "cancelled"

#: a result's header from worker to manager and from manager to interchange: (task id,
#: result kind, seconds it ran, when it started by the wall clock); None for a task
#: that never ran or whose start is unknown
ResultEntry = tuple[int, str, float | None, float | None]

#: exit status of a manager refused by the interchange (version or token mismatch)
EXIT_REFUSED = 3


#: payloads this big or bigger travel in frames of their own
LARGE = 64 * 1024


def batch(kind: bytes, header: list[Any], payloads: list[bytes]) -> list[bytes]:
    """Frames of a batch message: ``header[i]`` describes ``payloads[i]``."""
    inline: list[bytes | None] = []
    large: list[bytes] = []
    for payload in payloads:
        if len(payload) >= LARGE:
            inline.append(None)
            large.append(payload)
        else:
            inline.append(payload)
    return [kind, dumps((header, inline)), *large]


def unbatch(frames: list[bytes]) -> tuple[list[Any], list[bytes]] | None:
    """``(header, payloads)`` of a batch message body, or None if it is malformed."""
    if not frames:
        return None
    body = loads(frames[0])
    if not (isinstance(body, tuple) and len(body) == 2):
        return None
    header, inline = body
    if not isinstance(header, list) or not isinstance(inline, list) or len(header) != len(inline):
        return None
    large = iter(frames[1:])
    payloads = [p if p is not None else next(large, None) for p in inline]
    if any(p is None for p in payloads) or next(large, None) is not None:
        return None
    return header, payloads  # type: ignore[return-value]


def dumps(obj: Any) -> bytes:
    """Body of a message between authenticated peers."""
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Any:
    """Body of a message from an authenticated peer."""
    return pickle.loads(data)


def dumps_json(obj: Any) -> bytes:
    """Body of a message sent before authentication."""
    return json.dumps(obj).encode()


def loads_json(data: bytes) -> Any:
    """Body of a message from a peer not yet authenticated; never unpickled."""
    return json.loads(data.decode())


def versions() -> str:
    """What must match between the submitting side and managers: plait and Python."""
    from plait.__about__ import __version__ as plait_version
    from plait_executor_htex.__about__ import __version__ as htex_version

    major_minor = ".".join(platform.python_version_tuple()[:2])
    return f"plait {plait_version} / plait-executor-htex {htex_version} / Python {major_minor}"


def recv(sock: zmq.Socket[Any]) -> list[Any]:
    """The next message on ``sock``: small frames as ``bytes``, frames of ``LARGE`` bytes
    or more as :class:`zmq.Frame` (read through the buffer protocol, forwarded by
    ``send_multipart(copy=False)``), so no hop copies a large payload in Python."""
    return [f.bytes if len(f) < LARGE else f for f in sock.recv_multipart(copy=False)]
