"""The page of one task: its tries, errors, root causes, states and resource use."""

from __future__ import annotations

from dataclasses import dataclass

from plait_monitoring.web import queries, urls
from plait_monitoring.web.assets import Assets
from plait_monitoring.web.html import Child, Html, el
from plait_monitoring.web.layout import (
    badge,
    chart,
    document,
    duration,
    fmt_time,
    table,
    task_links,
)
from plait_monitoring.web.queries import StatusChange, Task, Try, Version, Workflow


@dataclass(frozen=True)
class TaskView:
    """Everything the task page shows besides its resource chart."""

    workflow: Workflow
    task: Task
    tries: list[Try]
    history: list[StatusChange]
    dependents: list[int]
    roots: list[Task]
    samples: int


def task_page(view: TaskView, version: Version, assets: Assets) -> Html:
    """The task's page; everything that changes while it runs is in ``data-live`` parts."""
    wf, t = view.workflow, view.task
    run = wf.run_id
    name = wf.name or "(unnamed)"
    body: list[Child] = [
        el("h1", f"Task {t.task_id}: {t.app} ", badge(t.state), id="task-title", data_live=True),
        _task_info(view),
        el("div", _failure(view), id="failure-body", data_live=True),
        el("section", el("h2", "Tries"), _tries(view), id="tries"),
        el("section", el("h2", "States"), _history(view), id="states"),
        el(
            "section",
            el("h2", "Resources"),
            el(
                "div",
                chart("resource-chart", urls.task_resources(run, t.task_id), "resource use")
                if view.samples
                else el("p", "No resource samples recorded for this task.", class_="muted"),
                id="resources-body",
                data_live=True,
            ),
            id="resources",
        ),
    ]
    return document(
        f"task {t.task_id} of {name}",
        [(f"{name} {run[:8]}", urls.workflow(run)), (f"task {t.task_id}", None)],
        body,
        assets,
        version=version,
        version_src=urls.version(run, t.task_id),
        charts=True,
    )


def _failure(view: TaskView) -> list[Child]:
    """The task's error and, for a dependency failure, the tasks behind it."""
    run, t = view.workflow.run_id, view.task
    parts: list[Child] = []
    if t.error:
        parts.append(
            el("section", el("h2", "Error"), el("pre", t.error, class_="error"), id="error")
        )
    if view.roots:
        rows = [
            (
                el("a", str(r.task_id), href=urls.task(run, r.task_id)),
                r.app,
                badge(r.state),
                el("pre", r.error or "(no error recorded)", class_="error"),
            )
            for r in view.roots
        ]
        parts.append(
            el(
                "section",
                el("h2", "Root causes"),
                el(
                    "p",
                    "The tasks that really failed behind this task's dependency failure:",
                    class_="muted",
                ),
                table(("task", "app", "state", "error"), rows, class_="roots"),
                id="roots",
            )
        )
    return parts


def _task_info(view: TaskView) -> Html:
    t, run = view.task, view.workflow.run_id
    rows: list[tuple[str, Child]] = [
        ("state", badge(t.state)),
        ("invoked", fmt_time(t.invoked)),
        ("ended", fmt_time(t.returned)),
        ("invoked to end", duration(t.invoked, t.returned)),
        ("failed tries", f"{t.fail_count}"),
        ("depends on", task_links(run, t.depends, 50) if t.depends else "nothing"),
        ("needed by", task_links(run, view.dependents, 50) if view.dependents else "nothing"),
    ]
    for label, value in (
        ("stdin", t.stdin),
        ("stdout", t.stdout),
        ("stderr", t.stderr),
        ("inputs", t.inputs),
        ("outputs", t.outputs),
        ("hashsum", t.hashsum),
        ("memoize", t.memoize),
    ):
        if value:
            rows.append((label, el("code", value)))
    return el(
        "dl",
        [(el("dt", label), el("dd", value)) for label, value in rows],
        class_="info",
        id="task-info",
        data_live=True,
    )


def _tries(view: TaskView) -> Html:
    if not view.tries:
        ended = view.task.state in queries.FINAL_STATES
        text = "None: the task never ran." if ended else "Not launched yet."
        return el("p", text, id="tries-body", data_live=True)
    rows = [
        (
            f"{r.try_id}",
            r.executor,
            r.block_id or "",
            r.hostname or "",
            fmt_time(r.launched),
            fmt_time(r.running),
            fmt_time(r.returned),
            duration(r.launched, r.returned),
            el("code", r.fail_history or ""),
        )
        for r in view.tries
    ]
    return el(
        "div",
        table(
            (
                "try",
                "executor",
                "block",
                "host",
                "launched",
                "running",
                "returned",
                "launch to return",
                "failures so far",
            ),
            rows,
            class_="tries",
        ),
        id="tries-body",
        data_live=True,
    )


def _history(view: TaskView) -> Html:
    rows = [(badge(h.state), fmt_time(h.timestamp), f"{h.try_id}") for h in view.history]
    return el(
        "div",
        table(("state", "time", "try"), rows, class_="history"),
        id="states-body",
        data_live=True,
    )
