"""What an MPI task asks for, checked at submission so no task waits for nodes that
cannot exist.

A task gives ``parsl_resource_specification={"num_nodes": N, "ranks_per_node": R}``
or ``{"num_nodes": N, "num_ranks": M}`` (or all three, consistent), optionally
``launcher_options`` (extra flags for the MPI launcher), and the keys every plait
executor of this family takes, ``priority`` and the kernel's ``walltime``. Every
error names the keys and the numbers involved.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plait.errors import InvalidResourceSpecification

#: the keys that describe the MPI job
MPI_KEYS = ("num_nodes", "num_ranks", "ranks_per_node", "launcher_options")
#: the other keys a task may give
OTHER_KEYS = ("priority", "walltime")
ACCEPTED_KEYS = frozenset(MPI_KEYS + OTHER_KEYS)

EXAMPLE = "parsl_resource_specification={'num_nodes': 2, 'ranks_per_node': 4}"


@dataclass(frozen=True)
class MPIRequest:
    """One task's MPI job: ``num_ranks`` ranks on ``num_nodes`` nodes, at most
    ``ranks_per_node`` on each (the last node gets fewer when ``num_ranks`` is not a
    multiple of ``num_nodes``)."""

    num_nodes: int
    num_ranks: int
    ranks_per_node: int
    launcher_options: str = ""

    def wire(self) -> tuple[int, int, int, str]:
        """The request as it travels to the manager (a tuple pickles small and fast)."""
        return (self.num_nodes, self.num_ranks, self.ranks_per_node, self.launcher_options)


def _count(spec: Mapping[str, Any], key: str, label: str) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidResourceSpecification(
            {key},
            f"MPI executor {label!r}: {key} must be an integer >= 1, got {value!r}",
        )
    return value


def parse_request(spec: Mapping[str, Any], block_nodes: int, block: str, label: str) -> MPIRequest:
    """The MPI job ``spec`` asks for; ``spec`` itself is only read.

    :param block_nodes: nodes one block of the executor has.
    :param block: how to describe that block in an error (``"a LocalProvider block is
        one node"``).
    :param label: the executor's label.
    :raises InvalidResourceSpecification: an unknown (misspelt) key, a missing
        ``num_nodes``, neither ``num_ranks`` nor ``ranks_per_node``, counts that
        contradict each other, or more nodes than a block has.
    """
    unknown = set(spec) - ACCEPTED_KEYS
    if unknown:
        hints = []
        for key in sorted(unknown):
            close = difflib.get_close_matches(key, sorted(ACCEPTED_KEYS), n=1)
            hints.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
        raise InvalidResourceSpecification(
            unknown,
            f"MPI executor {label!r} does not know resource key(s) {', '.join(hints)}; "
            f"it takes {', '.join(MPI_KEYS + OTHER_KEYS)}",
        )
    num_nodes = _count(spec, "num_nodes", label)
    if num_nodes is None:
        raise InvalidResourceSpecification(
            {"num_nodes"},
            f"MPI executor {label!r}: every task needs num_nodes, and num_ranks or "
            f"ranks_per_node, e.g. {EXAMPLE}; got {dict(spec)!r}",
        )
    num_ranks = _count(spec, "num_ranks", label)
    ranks_per_node = _count(spec, "ranks_per_node", label)
    if num_ranks is None and ranks_per_node is None:
        raise InvalidResourceSpecification(
            {"num_ranks", "ranks_per_node"},
            f"MPI executor {label!r}: num_nodes={num_nodes} needs num_ranks or ranks_per_node "
            f"too, e.g. {EXAMPLE}",
        )
    if num_ranks is None:
        assert ranks_per_node is not None
        num_ranks = num_nodes * ranks_per_node
    elif ranks_per_node is None:
        if num_ranks < num_nodes:
            raise InvalidResourceSpecification(
                {"num_ranks", "num_nodes"},
                f"MPI executor {label!r}: num_ranks={num_ranks} is fewer than "
                f"num_nodes={num_nodes}; every node needs at least one rank",
            )
        ranks_per_node = -(-num_ranks // num_nodes)
    elif num_ranks != num_nodes * ranks_per_node:
        raise InvalidResourceSpecification(
            {"num_ranks", "num_nodes", "ranks_per_node"},
            f"MPI executor {label!r}: num_ranks={num_ranks} contradicts num_nodes={num_nodes} "
            f"x ranks_per_node={ranks_per_node} = {num_nodes * ranks_per_node}; give two of "
            "the three, or consistent values",
        )
    if num_nodes > block_nodes:
        raise InvalidResourceSpecification(
            {"num_nodes"},
            f"MPI executor {label!r}: the task asks for num_nodes={num_nodes}, but a block "
            f"has {block_nodes} node(s) ({block}); ask for fewer nodes or make blocks bigger",
        )
    options = spec.get("launcher_options", "")
    if not isinstance(options, str):
        raise InvalidResourceSpecification(
            {"launcher_options"},
            f"MPI executor {label!r}: launcher_options must be a string of extra launcher "
            f"flags, got {options!r}",
        )
    return MPIRequest(num_nodes, num_ranks, ranks_per_node, options)
