"""The last lines of what ranks wrote to stderr, for failure messages."""

from __future__ import annotations

#: lines of stderr a failure message keeps
TAIL_LINES = 20
#: characters of stderr a failure message keeps
TAIL_CHARS = 4000


def tail(data: bytes, lines: int = TAIL_LINES, chars: int = TAIL_CHARS) -> str:
    """The last ``lines`` lines of ``data`` (at most ``chars`` characters), decoded
    leniently and without trailing blank lines."""
    text = data[-chars * 4 :].decode(errors="replace").rstrip()
    kept = "\n".join(text.splitlines()[-lines:])
    return kept[-chars:]
