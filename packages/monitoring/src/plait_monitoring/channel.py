"""Messages between a hub and its recorder process: length-prefixed :mod:`marshal` frames.

Everything a hub sends (journal entries, event fields, settings) and everything
its recorder answers (log records, progress) is made of ints, floats, strings,
None, tuples, lists and dicts, which :mod:`marshal` writes two to three times
faster than pickle, on the workflow's side of the pipe where time counts. Both
ends are the same Python (the recorder is started with ``sys.executable``), so
the marshal format is the same on both.
"""

from __future__ import annotations

import marshal
import struct
from typing import IO, Any

_LENGTH = struct.Struct("<I")
#: the marshal format version (4: Python 3.4 and later)
_VERSION = 4


def encode(message: Any) -> bytes:
    """``message`` as one frame.

    :raises ValueError: it holds a value marshal cannot write (an object of a class).
    """
    data = marshal.dumps(message, _VERSION)
    return _LENGTH.pack(len(data)) + data


def write_frame(stream: IO[bytes], message: Any) -> None:
    """Write ``message`` as one frame and flush it.

    :raises OSError: the other end has gone (``BrokenPipeError``).
    :raises ValueError: as :func:`encode`.
    """
    stream.write(encode(message))
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """The next message, or None once the other end has closed the pipe.

    :raises EOFError: the pipe ended in the middle of a frame.
    """
    header = stream.read(_LENGTH.size)
    if not header:
        return None
    if len(header) < _LENGTH.size:
        raise EOFError("the pipe ended inside a frame header")
    (length,) = _LENGTH.unpack(header)
    data = stream.read(length)
    if len(data) < length:
        raise EOFError(f"the pipe ended {length - len(data)} bytes short of a frame")
    return marshal.loads(data)
