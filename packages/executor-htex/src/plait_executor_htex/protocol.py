"""Wire protocol shared by the executor, the interchange, managers and workers.

Every message is a ZeroMQ multipart message ``[kind, body]``: ``kind`` is one of
the short byte strings below; ``body`` is JSON for messages a peer sends before
it has authenticated (so nothing untrusted is ever unpickled) and pickle after.
Task payloads and results are opaque bytes made by :mod:`plait.serialize`.

Channels:

* executor -> interchange: ``HELLO`` (JSON token), ``TASKS`` [(id, priority,
  payload)], ``CANCEL`` [id], ``HB``, ``STOP``;
* interchange -> executor: ``RESULTS`` [(id, kind, data)], ``STATUS`` {blocks},
  ``REFUSED`` (a manager was refused: message);
* manager -> interchange: ``REG`` (JSON registration), ``HB``, ``RESULTS``, ``DRAIN``;
* interchange -> manager: ``OK``, ``REFUSED`` (JSON reason), ``TASKS`` [(id,
  payload)], ``CANCEL`` [id], ``HB``, ``STOP``;
* worker <-> manager: ``READY``; ``TASK`` (id, payload); ``RESULT`` (id, kind, data).

Result kinds: ``ok`` (data = packed result), ``err`` (data = packed exception).
"""

from __future__ import annotations

import json
import pickle
import platform
from typing import Any

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
READY = b"READY"
TASK = b"TASK"
RESULT = b"RESULT"

RESULT_OK = "ok"
RESULT_ERR = "err"

#: exit status of a manager refused by the interchange (version or token mismatch)
EXIT_REFUSED = 3


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
