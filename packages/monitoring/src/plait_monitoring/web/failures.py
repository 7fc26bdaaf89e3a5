"""Root causes of failures: the tasks that really failed behind each ``dep_fail``.

A ``dep_fail`` task never ran; it failed because a task it depends on did, and
that one may be ``dep_fail`` too. Following ``task_depends`` through the
``dep_fail`` tasks down to the ``failed`` (or ``cancelled``) ones gives the
tasks whose errors explain it, which is what a user needs to read first: a
run where one task broke shows that one error, not ten thousand
``DependencyError`` lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.engine import Connection

from plait_monitoring.web import queries
from plait_monitoring.web.queries import FailedTask, Task

DEP_FAIL = "dep_fail"


class Failed(Protocol):
    """What root causes are found from: a task's state and dependencies."""

    @property
    def state(self) -> str | None: ...

    @property
    def depends(self) -> tuple[int, ...]: ...


def root_causes(failed: Mapping[int, Failed]) -> dict[int, tuple[int, ...]]:
    """For each task of ``failed`` (tasks in failure states, by id), the ids of the
    tasks behind its failure: itself if it failed on its own, else the root
    causes of the failed tasks it depends on (none if they are not in ``failed``).

    Iterative, so chains of any length are fine.
    """
    roots: dict[int, tuple[int, ...]] = {}
    for start in sorted(failed):
        stack = [start]
        while stack:
            task_id = stack[-1]
            if task_id in roots:
                stack.pop()
                continue
            task = failed[task_id]
            if task.state != DEP_FAIL:
                roots[task_id] = (task_id,)
                stack.pop()
                continue
            deps = [d for d in task.depends if d in failed]
            pending = [d for d in deps if d not in roots and d not in stack]
            if pending:
                stack.extend(pending)
                continue
            found = {root for d in deps for root in roots.get(d, ())}
            roots[task_id] = tuple(sorted(found))
            stack.pop()
    return roots


@dataclass(frozen=True)
class CauseGroup:
    """Root-cause tasks that failed the same way: one app, one error."""

    app: str
    error: str | None
    roots: list[int]
    dependents: int


@dataclass(frozen=True)
class Failures:
    """The failures of a run: every failed task with its roots, and the roots grouped."""

    tasks: dict[int, FailedTask]
    roots: dict[int, tuple[int, ...]]
    groups: list[CauseGroup]


def run_failures(connection: Connection, run_id: str) -> Failures:
    """Every failure of run ``run_id``, with root causes; groups by most tasks affected."""
    failed = queries.failed_tasks(connection, run_id)
    roots = root_causes(failed)
    dependents: dict[int, int] = {}
    for task_id, causes in roots.items():
        if failed[task_id].state == DEP_FAIL:
            for root in causes:
                dependents[root] = dependents.get(root, 0) + 1
    grouped: dict[tuple[str, str | None], list[int]] = {}
    for task_id, task in sorted(failed.items()):
        if task.state != DEP_FAIL:
            grouped.setdefault((task.app, task.error), []).append(task_id)
    groups = [
        CauseGroup(app, error, ids, sum(dependents.get(i, 0) for i in ids))
        for (app, error), ids in grouped.items()
    ]
    groups.sort(key=lambda g: (-(len(g.roots) + g.dependents), g.roots[0]))
    return Failures(failed, roots, groups)


def task_root_causes(connection: Connection, run_id: str, task: Task) -> list[Task]:
    """The tasks behind ``task``'s failure, read by walking its ``dep_fail`` ancestors."""
    if task.state != DEP_FAIL:
        return []
    seen: dict[int, Task] = {task.task_id: task}
    frontier = list(task.depends)
    while frontier:
        found = queries.tasks_by_id(connection, run_id, sorted(set(frontier)))
        frontier = []
        for dep in found.values():
            if dep.state in queries.FAILURE_STATES and dep.task_id not in seen:
                seen[dep.task_id] = dep
                if dep.state == DEP_FAIL:
                    frontier.extend(d for d in dep.depends if d not in seen)
    roots = root_causes(seen)[task.task_id]
    return [seen[r] for r in roots]
