"""Finding and killing a process's descendants (Linux ``/proc``).

A worker's task may start commands in sessions of their own (a bash app does,
so its walltime can kill the whole command); killing only the worker would
orphan them. Both the manager (killing a worker) and a worker (whose manager
died) kill the whole tree.
"""

from __future__ import annotations

import os
import signal


def children_map() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process visible now."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name may contain spaces and parentheses: the ppid follows the last ")"
        fields = stat[stat.rfind(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, children first."""
    tree = children_map()
    found: list[int] = []
    stack = list(tree.get(pid, ()))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(tree.get(child, ()))
    return found


def kill_tree(pid: int, include_root: bool = True) -> None:
    """SIGKILL ``pid`` (unless ``include_root`` is False) and everything below it."""
    victims = descendants(pid)
    if include_root:
        victims.insert(0, pid)
    for victim in victims:
        try:
            os.kill(victim, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
