"""The nodes of a block, as its manager finds them, and which of them are free.

A block's manager runs on the block's first node and hands each MPI task a set of
nodes of its own: a task runs as soon as enough nodes are free (first fit in
arrival order), so small tasks are never stuck behind a big one that waits.

Where the nodes come from, first match wins:

* ``PLAIT_MPI_NODEFILE``: a file naming one node per line (for schedulers plait
  does not read itself, or to split one machine into named slots);
* ``SLURM_JOB_NODELIST`` (or ``SLURM_NODELIST``), a Slurm hostlist expression;
* ``PBS_NODEFILE``, one line per slot (duplicates collapse, order kept);
* otherwise this one machine.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def _split_top_level(expression: str) -> list[str]:
    """Split a hostlist at the commas that are not inside brackets."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in expression:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _expand_brackets(body: str) -> list[str]:
    """``1-3,07`` -> ``['1', '2', '3', '07']``, keeping each range's zero padding."""
    values: list[str] = []
    for item in body.split(","):
        match = _RANGE.match(item.strip())
        if match is None:
            raise ValueError(f"bad range {item!r} in hostlist brackets [{body}]")
        low, high = match.group(1), match.group(2) or match.group(1)
        width = len(low)
        values.extend(str(n).zfill(width) for n in range(int(low), int(high) + 1))
    return values


def expand_hostlist(expression: str) -> list[str]:
    """The host names a Slurm hostlist expression stands for, in order:
    ``"node[1-2],gpu[07-08]x"`` -> ``["node1", "node2", "gpu07x", "gpu08x"]``. Several
    bracket groups in one name multiply out (``rack[1-2]n[1-2]``).

    :raises ValueError: the expression is malformed.
    """
    hosts: list[str] = []
    for name in _split_top_level(expression):
        pieces = re.split(r"\[([^\]]*)\]", name)
        if any("[" in p or "]" in p for p in pieces[::2]):
            raise ValueError(f"unbalanced brackets in hostlist {expression!r}")
        choices = [[p] if i % 2 == 0 else _expand_brackets(p) for i, p in enumerate(pieces)]
        hosts.extend("".join(combo) for combo in itertools.product(*choices))
    return hosts


def _read_lines(path: str) -> list[str]:
    with open(path) as f:
        names = [line.strip() for line in f]
    return list(dict.fromkeys(n for n in names if n and not n.startswith("#")))


def block_nodes(environ: Mapping[str, str], hostname: str) -> tuple[list[str], str]:
    """The block's nodes and where they were found (for messages).

    :raises ValueError: the source exists but names no node (or is malformed).
    :raises OSError: a node file cannot be read.
    """
    if environ.get("PLAIT_MPI_NODEFILE"):
        path = environ["PLAIT_MPI_NODEFILE"]
        nodes, source = _read_lines(path), f"PLAIT_MPI_NODEFILE={path}"
    elif environ.get("SLURM_JOB_NODELIST") or environ.get("SLURM_NODELIST"):
        expression = environ.get("SLURM_JOB_NODELIST") or environ["SLURM_NODELIST"]
        nodes, source = expand_hostlist(expression), f"SLURM_JOB_NODELIST={expression}"
    elif environ.get("PBS_NODEFILE"):
        path = environ["PBS_NODEFILE"]
        nodes, source = _read_lines(path), f"PBS_NODEFILE={path}"
    else:
        return [hostname], "this machine (no batch scheduler's node list found)"
    if not nodes:
        raise ValueError(f"{source} names no node")
    return nodes, source


class NodePool:
    """The block's nodes, each either free or held by one task.

    :param nodes: the block's nodes, in the order tasks should get them.
    """

    def __init__(self, nodes: list[str]) -> None:
        self.nodes = list(nodes)
        self._free = list(nodes)

    @property
    def total(self) -> int:
        """Nodes in the block."""
        return len(self.nodes)

    @property
    def free(self) -> int:
        """Nodes no task holds now."""
        return len(self._free)

    def take(self, count: int) -> list[str] | None:
        """``count`` free nodes, now held, in block order; None (and nothing held) if
        fewer are free."""
        if count > len(self._free):
            return None
        taken, self._free = self._free[:count], self._free[count:]
        return taken

    def give_back(self, nodes: list[str]) -> None:
        """Free nodes a task held; they keep the block's order."""
        order = {node: i for i, node in enumerate(self.nodes)}
        self._free = sorted([*self._free, *nodes], key=order.__getitem__)
