"""The list pages: the workflows of a database, and the tasks of one workflow."""

from __future__ import annotations

from collections.abc import Sequence

from plait_monitoring.web import urls
from plait_monitoring.web.assets import Assets
from plait_monitoring.web.html import Child, Html, el
from plait_monitoring.web.layout import (
    Pagination,
    badge,
    document,
    duration,
    first_line,
    fmt_time,
    pager,
    run_status,
    table,
)
from plait_monitoring.web.queries import FINAL_STATES, Task, Version, Workflow

# -- the workflows list -------------------------------------------------------------


def workflows_page(runs: list[Workflow], p: Pagination, version: Version, assets: Assets) -> Html:
    """The runs in the database, newest first, with their task counts."""
    rows = [
        (
            el("a", wf.name or "(unnamed)", href=urls.workflow(wf.run_id)),
            wf.version or "",
            el("a", el("code", wf.run_id[:8]), href=urls.workflow(wf.run_id), title=wf.run_id),
            fmt_time(wf.began),
            run_status(wf),
            f"{wf.host}",
            wf.user,
            f"{wf.tasks:,}",
            _count(wf.counts, ("exec_done", "memo_done")),
            _count(wf.counts, ("failed",)),
            _count(wf.counts, ("dep_fail",)),
            f"{wf.tasks - sum(wf.counts.get(s, 0) for s in FINAL_STATES):,}",
        )
        for wf in runs
    ]
    body: list[Child] = [el("h1", "Workflows")]
    if runs:
        body.append(
            el(
                "div",
                table(
                    (
                        "workflow",
                        "version",
                        "run",
                        "began",
                        "status",
                        "host",
                        "user",
                        "tasks",
                        "done",
                        "failed",
                        "dep_fail",
                        "not ended",
                    ),
                    rows,
                    class_="runs",
                ),
                pager(p, urls.workflows, "runs"),
                id="runs",
                data_live=True,
            )
        )
    else:
        body.append(
            el(
                "p",
                "No workflow has been recorded in this database yet.",
                id="runs",
                data_live=True,
            )
        )
    return document("Workflows", [], body, assets, version=version, version_src=urls.version())


def _count(counts: dict[str, int], states: Sequence[str]) -> str:
    return f"{sum(counts.get(s, 0) for s in states):,}"


# -- the tasks of a workflow -----------------------------------------------------------


def tasks_page(
    wf: Workflow,
    found: list[Task],
    p: Pagination,
    apps: Sequence[str],
    states: Sequence[str],
    app: str | None,
    state: str | None,
    version: Version,
    assets: Assets,
) -> Html:
    """A page of a run's tasks, filtered by app and state with a form."""
    run = wf.run_id

    def options(values: Sequence[str], chosen: str | None, everything: str) -> list[Html]:
        return [el("option", everything, value="")] + [
            el("option", v, value=v, selected=v == chosen) for v in values
        ]

    form = el(
        "form",
        el("label", "app ", el("select", options(apps, app, "any app"), name="app")),
        el("label", "state ", el("select", options(states, state, "any state"), name="state")),
        el("button", "show", type="submit"),
        method="get",
        action=urls.tasks(run),
        class_="toolbar",
    )
    rows = [
        (
            el("a", str(t.task_id), href=urls.task(run, t.task_id)),
            t.app,
            badge(t.state),
            fmt_time(t.invoked),
            duration(t.invoked, t.returned),
            f"{t.fail_count}",
            el("code", first_line(t.error, 120)),
        )
        for t in found
    ]
    listing = el(
        "div",
        table(
            ("task", "app", "state", "invoked", "invoked to end", "failed tries", "error"),
            rows,
            class_="tasks",
        )
        if rows
        else el("p", "No task matches."),
        pager(p, lambda n: urls.tasks(run, app=app, state=state, page=n), "tasks"),
        id="tasks-body",
        data_live=True,
    )
    name = wf.name or "(unnamed)"
    return document(
        f"tasks of {name}",
        [(f"{name} {run[:8]}", urls.workflow(run)), ("tasks", None)],
        [el("h1", "Tasks"), form, listing],
        assets,
        version=version,
        version_src=urls.version(run),
    )
