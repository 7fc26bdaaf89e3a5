"""The page of one workflow: task totals, charts, failures with root causes, blocks, nodes."""

from __future__ import annotations

from dataclasses import dataclass

from plait_monitoring.web import urls
from plait_monitoring.web.assets import Assets
from plait_monitoring.web.failures import Failures
from plait_monitoring.web.html import Child, Html, el
from plait_monitoring.web.layout import (
    PER_PAGE,
    Pagination,
    badge,
    chart,
    document,
    first_line,
    fmt_bytes,
    fmt_time,
    pager,
    run_status,
    table,
    task_links,
)
from plait_monitoring.web.queries import Block, Node, Version, Workflow, ordered_states


@dataclass(frozen=True)
class WorkflowView:
    """Everything the workflow page shows besides its charts."""

    workflow: Workflow
    counts: dict[str, dict[str, int]]
    failures: Failures
    failure_page: Pagination
    blocks: list[Block]
    block_page: Pagination
    nodes: list[Node]
    node_page: Pagination
    params: dict[str, int]


def workflow_page(view: WorkflowView, version: Version, assets: Assets) -> Html:
    """The run's page: the tables here, the charts drawn by the page script."""
    wf = view.workflow
    run = wf.run_id
    sections = [
        el("h1", wf.name or "(unnamed)", " ", el("small", wf.version or "")),
        _workflow_info(wf),
        el(
            "nav",
            [
                el("a", label, href=f"#{anchor}")
                for anchor, label in (
                    ("totals", "tasks by state"),
                    ("tries", "tries"),
                    ("over-time", "over time"),
                    ("dag", "DAG"),
                    ("failures", "failures"),
                    ("blocks", "blocks"),
                    ("nodes", "nodes"),
                )
            ],
            el("a", "all tasks", href=urls.tasks(run)),
            class_="sections",
        ),
        el("section", el("h2", "Tasks by app and state"), _totals(run, view.counts), id="totals"),
        el(
            "section",
            el("h2", "Tries"),
            el(
                "p",
                "One bar per try, from launch to return; failed tries outlined in red, "
                "running ones pale. Click a bar for its task.",
                class_="muted",
            ),
            chart("gantt-chart", urls.api(run, "gantt"), "Gantt chart of tries"),
            id="tries",
        ),
        el(
            "section",
            el("h2", "Tasks over time"),
            chart("timeline-chart", urls.api(run, "timeline"), "tasks in each state over time"),
            id="over-time",
        ),
        el(
            "section",
            el("h2", "DAG"),
            el(
                "p",
                "Colour by ",
                el(
                    "button",
                    "state",
                    type="button",
                    class_="toggle",
                    aria_pressed="true",
                    data_chart_for="dag-chart",
                    data_src=urls.api(run, "dag", color="state"),
                ),
                el(
                    "button",
                    "app",
                    type="button",
                    class_="toggle",
                    aria_pressed="false",
                    data_chart_for="dag-chart",
                    data_src=urls.api(run, "dag", color="app"),
                ),
                class_="toolbar",
            ),
            chart("dag-chart", urls.api(run, "dag", color="state"), "task dependency graph"),
            id="dag",
        ),
        el("section", el("h2", "Failures"), _failures(view), id="failures"),
        el("section", el("h2", "Blocks"), _blocks(view), id="blocks"),
        el("section", el("h2", "Nodes"), _nodes(view), id="nodes"),
    ]
    return document(
        wf.name or run,
        [(f"{wf.name or '(unnamed)'} {run[:8]}", None)],
        sections,
        assets,
        version=version,
        version_src=urls.version(run),
        charts=True,
    )


def _workflow_info(wf: Workflow) -> Html:
    return el(
        "dl",
        el("dt", "run"),
        el("dd", el("code", wf.run_id)),
        el("dt", "status"),
        el("dd", run_status(wf)),
        el("dt", "began"),
        el("dd", fmt_time(wf.began)),
        el("dt", "host"),
        el("dd", f"{wf.host} ({wf.user})"),
        el("dt", "run directory"),
        el("dd", el("code", wf.rundir)),
        class_="info",
        id="workflow-info",
        data_live=True,
    )


def _totals(run: str, counts: dict[str, dict[str, int]]) -> Html:
    if not counts:
        return el("p", "No task yet.", id="totals-body", data_live=True)
    states = ordered_states({s for by_state in counts.values() for s in by_state})

    def cell(n: int, app: str | None, state: str | None) -> Child:
        return el("a", f"{n:,}", href=urls.tasks(run, app=app, state=state)) if n else ""

    rows = [
        (
            el("a", app, href=urls.tasks(run, app=app)),
            *(cell(counts[app].get(s, 0), app, s) for s in states),
            cell(sum(counts[app].values()), app, None),
        )
        for app in sorted(counts)
    ]
    totals = [sum(by_state.get(s, 0) for by_state in counts.values()) for s in states]
    rows.append(
        (
            el("strong", "all"),
            *(cell(n, None, s) for n, s in zip(totals, states, strict=True)),
            cell(sum(totals), None, None),
        )
    )
    return el(
        "div",
        table(("app", *(badge(s) for s in states), "total"), rows, class_="totals numeric"),
        id="totals-body",
        data_live=True,
    )


def _failures(view: WorkflowView) -> Html:
    run, failures = view.workflow.run_id, view.failures
    if not failures.tasks:
        return el("p", "No task failed.", id="failures-body", data_live=True)
    groups = table(
        ("error", "app", "failed with it", "their dep_fail dependents", "tasks"),
        [
            (
                el("code", first_line(g.error) or "(no error recorded)", class_="error"),
                g.app,
                f"{len(g.roots):,}",
                f"{g.dependents:,}",
                task_links(run, g.roots),
            )
            for g in failures.groups[:PER_PAGE]
        ],
        class_="causes",
    )
    p = view.failure_page
    ids = sorted(failures.tasks)[p.offset : p.offset + p.per_page]
    rows = []
    for task_id in ids:
        task = failures.tasks[task_id]
        roots = [r for r in failures.roots.get(task_id, ()) if r != task_id]
        rows.append(
            (
                el("a", str(task_id), href=urls.task(run, task_id)),
                task.app,
                badge(task.state),
                el("code", first_line(task.error)),
                task_links(run, roots)
                if roots
                else ("itself" if task.state != "dep_fail" else "not recorded"),
            )
        )

    def link(page: int) -> str:
        return urls.workflow(run, **{**view.params, "fpage": page}) + "#failures"

    return el(
        "div",
        el("h3", "Root causes"),
        groups,
        el("h3", "Failed tasks"),
        table(("task", "app", "state", "error", "root cause"), rows, class_="failed"),
        pager(p, link, "failed tasks"),
        id="failures-body",
        data_live=True,
    )


def _blocks(view: WorkflowView) -> Html:
    if not view.blocks:
        return el(
            "p",
            "No block recorded (executors without blocks, such as threads, have none).",
            id="blocks-body",
            data_live=True,
        )
    run = view.workflow.run_id

    def link(page: int) -> str:
        return urls.workflow(run, **{**view.params, "bpage": page}) + "#blocks"

    rows = [
        (
            b.executor,
            b.block_id,
            b.job_id or "",
            badge(b.status),
            b.message or "",
            fmt_time(b.first_seen),
            fmt_time(b.last_seen),
            f"{b.changes:,}",
        )
        for b in view.blocks
    ]
    return el(
        "div",
        table(
            (
                "executor",
                "block",
                "job",
                "state",
                "message",
                "first seen",
                "last change",
                "changes",
            ),
            rows,
            class_="blocks",
        ),
        pager(view.block_page, link, "blocks"),
        id="blocks-body",
        data_live=True,
    )


def _nodes(view: WorkflowView) -> Html:
    if not view.nodes:
        return el("p", "No node recorded.", id="nodes-body", data_live=True)
    run = view.workflow.run_id

    def link(page: int) -> str:
        return urls.workflow(run, **{**view.params, "npage": page}) + "#nodes"

    rows = [
        (
            n.hostname,
            n.block_id,
            f"{n.cpu_count}",
            fmt_bytes(n.total_memory),
            f"{n.worker_count}",
            "yes" if n.active else "no",
            n.python_v,
            fmt_time(n.timestamp),
            fmt_time(n.last_heartbeat),
        )
        for n in view.nodes
    ]
    return el(
        "div",
        table(
            (
                "host",
                "block",
                "CPUs",
                "memory",
                "workers",
                "active",
                "Python",
                "registered",
                "last heartbeat",
            ),
            rows,
            class_="nodes",
        ),
        pager(view.node_page, link, "nodes"),
        id="nodes-body",
        data_live=True,
    )
