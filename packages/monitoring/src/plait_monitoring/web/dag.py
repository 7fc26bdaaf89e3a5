"""Placing a task graph for drawing: dependencies left of their dependents.

A layered layout, computed here rather than in the browser so the page needs
no graph library: a task's layer is one more than its deepest dependency's,
and within a layer each task sits at the mean row of its dependencies (one
barycentre pass, then spread so no two overlap), which keeps chains straight and
most edges short. Linear in tasks plus edges, after sorting each layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Placed:
    """Where a task goes: ``layer`` (x) and ``row`` (y, from 0 down)."""

    layer: int
    row: float


def layered(tasks: Sequence[tuple[int, Sequence[int]]]) -> dict[int, Placed]:
    """Positions of ``tasks`` (id, dependency ids); dependencies outside ``tasks`` are ignored.

    The first layer is stacked in id order; each later task goes to the mean row of its
    dependencies, pushed down as little as needed to stay a row apart from the task
    above it, so a chain stays on one line and a join sits between its inputs.
    """
    deps = {task_id: [d for d in depends if d != task_id] for task_id, depends in tasks}
    for task_id in deps:
        deps[task_id] = [d for d in deps[task_id] if d in deps]
    layer = _layers(deps)
    by_layer: dict[int, list[int]] = {}
    for task_id in sorted(deps):
        by_layer.setdefault(layer[task_id], []).append(task_id)
    placed: dict[int, Placed] = {}
    for depth in sorted(by_layer):
        wanted = {
            task_id: _mean([placed[d].row for d in deps[task_id] if d in placed], i)
            for i, task_id in enumerate(by_layer[depth])
        }
        row = float("-inf")
        for task_id in sorted(wanted, key=lambda t: (wanted[t], t)):
            row = max(wanted[task_id], row + 1)
            placed[task_id] = Placed(depth, row)
    return placed


def _mean(rows: list[float], default: float) -> float:
    return sum(rows) / len(rows) if rows else default


def _layers(deps: dict[int, list[int]]) -> dict[int, int]:
    """Longest-path layer of every task; iterative, and safe against cycles in bad data."""
    layer: dict[int, int] = {}
    for start in sorted(deps):
        stack = [start]
        on_stack = {start}
        while stack:
            task_id = stack[-1]
            if task_id in layer:
                stack.pop()
                on_stack.discard(task_id)
                continue
            pending = [d for d in deps[task_id] if d not in layer and d not in on_stack]
            if pending:
                stack.extend(pending)
                on_stack.update(pending)
                continue
            layer[task_id] = 1 + max((layer.get(d, -1) for d in deps[task_id]), default=-1)
            stack.pop()
            on_stack.discard(task_id)
    return layer


def edges(tasks: Sequence[tuple[int, Sequence[int]]]) -> list[tuple[int, int]]:
    """The (dependency, dependent) pairs among ``tasks``, each once."""
    present = {task_id for task_id, _ in tasks}
    found = {(d, task_id) for task_id, depends in tasks for d in depends if d in present}
    found = {(a, b) for a, b in found if a != b}
    return sorted(found)
