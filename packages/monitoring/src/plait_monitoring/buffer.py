"""The writer's backlog: a FIFO of row operations, bounded in memory, spilled to a file.

While the database is reachable the backlog is a handful of operations. While
it is locked or down, operations pile up; past ``limit`` in memory the whole
in-memory part is appended to a JSON-lines spill file in the run directory, so
memory stays bounded and nothing is dropped. The file always holds the oldest
operations, so reading it first and memory second keeps the order they arrived
in. A spill file left behind (the database never came back before the
workflow exited) is loaded later by ``plait monitoring replay``, which reads it
through this same class.
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from itertools import islice

from plait_monitoring.rows import Op

logger = logging.getLogger("plait.monitoring")


class SpillBuffer:
    """A FIFO of operations: :meth:`append`, then :meth:`peek` a batch and :meth:`drop`
    it once written.

    :param path: the spill file; one left by an earlier process is adopted.
    :param limit: most operations kept in memory.
    """

    def __init__(self, path: str, limit: int) -> None:
        self.path = path
        self.limit = limit
        self._memory: deque[Op] = deque()
        self._in_file = 0  # operations in the file not yet dropped
        self._offset = 0  # where in the file they start
        self._peeked_to = 0  # file offset just past the last peeked line
        if os.path.exists(path):
            with open(path, "rb") as f:
                self._in_file = sum(1 for _ in f)

    def __len__(self) -> int:
        return self._in_file + len(self._memory)

    def append(self, op: Op) -> None:
        """Add ``op`` at the end; spills the in-memory part once it exceeds ``limit``
        (if the file cannot be written, keeps them and doubles ``limit``)."""
        self._memory.append(op)
        if len(self._memory) > self.limit:
            try:
                self.spill()
            except OSError as exc:
                # nothing is lost (the records stay in memory); try again at twice the size
                logger.error("monitoring: cannot spill records to %s: %s", self.path, exc)
                self.limit *= 2

    def spill(self) -> None:
        """Move every in-memory operation to the end of the spill file."""
        if not self._memory:
            return
        if not self._in_file:
            logger.warning(
                "monitoring: more than %d records wait for the database; keeping the "
                "oldest in %s until it can take them",
                self.limit,
                self.path,
            )
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(op, separators=(",", ":")) + "\n" for op in self._memory)
        self._in_file += len(self._memory)
        self._memory.clear()

    def peek(self, n: int) -> list[Op]:
        """Up to ``n`` of the oldest operations, left in place until :meth:`drop`; a batch
        comes from the spill file or from memory, never both."""
        if not self._in_file:
            return list(islice(self._memory, n))
        with open(self.path, encoding="utf-8") as f:
            f.seek(self._offset)
            lines = [f.readline() for _ in range(min(n, self._in_file))]
            self._peeked_to = f.tell()
        # one decode for the whole batch: far cheaper than one per line
        return [(kind, row) for kind, row in json.loads(f"[{','.join(lines)}]")]

    def drop(self, n: int) -> None:
        """Forget the ``n`` operations the last :meth:`peek` returned (they are written)."""
        if not self._in_file:
            for _ in range(n):
                self._memory.popleft()
            return
        self._in_file -= n
        self._offset = self._peeked_to
        if not self._in_file:
            os.remove(self.path)
            self._offset = self._peeked_to = 0
