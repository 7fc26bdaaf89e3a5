"""Plotly figures (plain dicts, sent as JSON) built from the UI's query results.

The figures are composed here, in typed and tested Python, so the browser's
only job is ``Plotly.react(div, figure)``. Every mark that stands for a task
carries that task's page URL as ``customdata``; the page script follows it on
click. Every figure sets ``uirevision`` so a refresh keeps the user's zoom.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html import escape
from typing import Any

from plait_monitoring.web import dag
from plait_monitoring.web.queries import (
    DagTask,
    ResourceSample,
    StateTimeline,
    Try,
    TrySample,
    ordered_states,
)

Figure = dict[str, Any]
#: URL of a task's page, from its id
TaskUrl = Callable[[int], str]

#: task states (lower case, as Parsl names them) and block states (upper case in the
#: ``block`` table; looked up case-insensitively)
STATE_COLORS = {
    "pending": "#9e9e9e",
    "launched": "#90caf9",
    "running": "#1e88e5",
    "joining": "#7e57c2",
    "running_ended": "#4db6ac",
    "fail_retryable": "#ffb300",
    "exec_done": "#43a047",
    "memo_done": "#00897b",
    "failed": "#e53935",
    "dep_fail": "#fb8c00",
    "cancelled": "#6d4c41",
    "completed": "#43a047",
    "timeout": "#c62828",
    "held": "#ffb300",
    "scaled_in": "#8d6e63",
    "missing": "#757575",
    "unknown": "#bdbdbd",
}
#: app colours; green and red come last, as they read as "done" and "failed"
APP_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
    "#2ca02c",
    "#d62728",
)
FAILED_OUTLINE = "#b71c1c"
_FONT = {"family": "system-ui, -apple-system, 'Segoe UI', sans-serif", "size": 12}
#: legends go above the plot, left-aligned, where they never cover the axis labels
_LEGEND = {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"}


def _t(value: object) -> str:
    """A database value as plotly text: plotly reads a little HTML in names and hover
    text, so values are escaped like any HTML."""
    return escape(str(value), quote=False)


def state_color(state: str | None) -> str:
    return STATE_COLORS.get((state or "unknown").lower(), STATE_COLORS["unknown"])


def app_colors(apps: Iterable[str]) -> dict[str, str]:
    """A colour per app, by the app's place among ``apps`` sorted by name: give every
    chart of a run all the run's apps, so an app has one colour on the whole page."""
    return {app: APP_COLORS[i % len(APP_COLORS)] for i, app in enumerate(sorted(set(apps)))}


def _layout(**extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "font": _FONT,
        "margin": {"l": 60, "r": 20, "t": 30, "b": 40},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#fafafa",
        "hovermode": "closest",
        "uirevision": "keep",
        "legend": _LEGEND,
    }
    layout.update(extra)
    return layout


def _time(value: datetime.datetime) -> str:
    return value.isoformat(sep=" ")


@dataclass(frozen=True)
class _Bar:
    """A try as the Gantt chart draws it."""

    task_id: int
    launched: datetime.datetime
    end: datetime.datetime
    running: bool
    failed: bool
    hover: str


def _bars(sample: TrySample, now: datetime.datetime) -> dict[str, list[_Bar]]:
    """The tries that were launched, as bars, by app. A try failed if the task was
    tried again after it, or ended ``failed`` at this try."""
    last_try: dict[int, int] = {}
    for t in sample.tries:
        last_try[t.task_id] = max(last_try.get(t.task_id, 0), t.try_id)
    by_app: dict[str, list[_Bar]] = {}
    for t in sample.tries:
        if t.launched is None:
            continue
        end = t.returned or max(now, t.launched)
        failed = t.try_id < last_try[t.task_id] or (
            t.task_state == "failed" and t.returned is not None
        )
        by_app.setdefault(t.app, []).append(
            _Bar(
                t.task_id,
                t.launched,
                end,
                t.returned is None,
                failed,
                _try_hover(t, t.launched, end, failed),
            )
        )
    return by_app


def _try_hover(t: Try, launched: datetime.datetime, end: datetime.datetime, failed: bool) -> str:
    where = f" on {_t(t.hostname)}" if t.hostname else ""
    outcome = "running" if t.returned is None else ("failed" if failed else "returned")
    seconds = (end - launched).total_seconds()
    return (
        f"task {t.task_id} try {t.try_id} ({_t(t.app)})<br>{_t(t.executor)}{where}<br>"
        f"{outcome} after {seconds:.3f} s"
    )


def gantt(
    sample: TrySample, colors: dict[str, str], task_url: TaskUrl, now: datetime.datetime
) -> Figure | None:
    """One horizontal bar per try, launch to return (to ``now`` while running), coloured
    by app (``colors``, see :func:`app_colors`); failed tries outlined in red, running
    ones pale."""
    by_app = _bars(sample, now)
    if not by_app:
        return None
    data = []
    for app in sorted(by_app):
        bars = by_app[app]
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": _t(app),
                "y": [f"task {b.task_id}" for b in bars],
                "base": [_time(b.launched) for b in bars],
                "x": [(b.end - b.launched).total_seconds() * 1000 for b in bars],
                "customdata": [task_url(b.task_id) for b in bars],
                "hovertext": [b.hover for b in bars],
                "hoverinfo": "text",
                "marker": {
                    "color": colors[app],
                    "opacity": [0.5 if b.running else 1.0 for b in bars],
                    "line": {
                        "color": [FAILED_OUTLINE if b.failed else colors[app] for b in bars],
                        "width": [2 if b.failed else 0 for b in bars],
                    },
                },
            }
        )
    rows = sorted({b.task_id for bars in by_app.values() for b in bars})
    return {
        "data": data,
        "layout": _layout(
            height=min(900, max(260, 80 + 16 * len(rows))),
            barmode="overlay",
            bargap=0.25,
            xaxis={"type": "date"},
            yaxis={
                "type": "category",
                "categoryorder": "array",
                "categoryarray": [f"task {i}" for i in rows],
                "autorange": "reversed",
                "automargin": True,
            },
        ),
    }


def gantt_note(sample: TrySample) -> str:
    """What the Gantt chart leaves out, if anything."""
    if sample.step == 1:
        return ""
    return (
        f"{len(sample.tries):,} of {sample.total:,} tries drawn "
        f"(those of every {sample.step:,}th task)."
    )


def timeline(data: StateTimeline) -> Figure | None:
    """Stacked areas: the tasks in each state over time, as steps (each bin drawn at
    the counts of its end, so the last bin shows where the run ended)."""
    if not data.edges:
        return None
    x = [_time(edge) for edge in data.edges]
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": _t(state),
            "stackgroup": "states",
            "x": x,
            "y": [*data.in_state[state], data.in_state[state][-1]],
            "line": {"color": state_color(state), "width": 0.5, "shape": "hv"},
            "fillcolor": state_color(state),
        }
        for state in ordered_states(data.in_state)
    ]
    return {
        "data": traces,
        "layout": _layout(
            height=320,
            xaxis={"type": "date"},
            yaxis={"title": {"text": "tasks"}, "rangemode": "tozero"},
            legend={**_LEGEND, "traceorder": "normal"},  # states in the order tasks pass
        ),
    }


def dag_figure(
    tasks: list[DagTask], apps: dict[str, str], task_url: TaskUrl, color_by: str
) -> Figure | None:
    """Tasks as dots, dependencies as lines, coloured by ``state`` or by app (``apps``,
    see :func:`app_colors`)."""
    if not tasks:
        return None
    graph = [(t.task_id, t.depends) for t in tasks]
    placed = dag.layered(graph)
    edge_x: list[float | None] = []
    edge_y: list[float | None] = []
    for a, b in dag.edges(graph):
        edge_x += [placed[a].layer, placed[b].layer, None]
        edge_y += [placed[a].row, placed[b].row, None]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "dependencies",
            "x": edge_x,
            "y": edge_y,
            "line": {"color": "#b0b0b0", "width": 1},
            "hoverinfo": "skip",
            "showlegend": False,
        }
    ]
    by_app = color_by == "app"
    group_of = {t.task_id: t.app if by_app else t.state or "unknown" for t in tasks}
    if by_app:
        groups = sorted(set(group_of.values()))
        colors = apps
    else:
        groups = ordered_states(set(group_of.values()))
        colors = {g: state_color(g) for g in groups}
    for group in groups:
        members = [t for t in tasks if group_of[t.task_id] == group]
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": _t(group),
                "x": [placed[t.task_id].layer for t in members],
                "y": [placed[t.task_id].row for t in members],
                "customdata": [task_url(t.task_id) for t in members],
                "hovertext": [f"task {t.task_id} {_t(t.app)}<br>{_t(t.state)}" for t in members],
                "hoverinfo": "text",
                "marker": {
                    "color": colors[group],
                    "size": 11 if len(tasks) <= 200 else 6,
                    "line": {"color": "#ffffff", "width": 1},
                },
            }
        )
    spread = [p.row for p in placed.values()]
    rows = max(spread) - min(spread) + 1
    axis = {"visible": False, "zeroline": False, "showgrid": False}
    return {
        "data": data,
        "layout": _layout(
            height=min(800, max(280, 60 + 14 * rows)),
            xaxis=axis,
            yaxis={**axis, "autorange": "reversed"},
            plot_bgcolor="rgba(0,0,0,0)",
        ),
    }


def dag_note(drawn: int, total: int) -> str:
    """What the DAG leaves out, if anything."""
    if drawn >= total:
        return ""
    return f"The first {drawn:,} of {total:,} tasks drawn (by task id)."


#: the resource subplots: y axis, title, divisor to its unit, (label, sample field) per line
_RESOURCE_PANELS = (
    ("y", "memory (MB)", 1e6, (("resident", "memory_resident"), ("virtual", "memory_virtual"))),
    ("y2", "CPU time (s)", 1.0, (("user", "time_user"), ("system", "time_system"))),
    ("y3", "disk I/O (MB)", 1e6, (("read", "disk_read"), ("written", "disk_write"))),
)
#: line styles that tell a task's tries apart
_DASHES = ("solid", "dot", "dash", "dashdot")


def resource_figure(samples: list[ResourceSample]) -> Figure | None:
    """Memory, CPU time and disk I/O of a task's tries over time, one subplot each."""
    if not samples:
        return None
    by_try: dict[int, list[ResourceSample]] = {}
    for sample in samples:
        by_try.setdefault(sample.try_id, []).append(sample)
    data = []
    layout = _layout(
        height=560,
        grid={"rows": 3, "columns": 1, "pattern": "coupled", "roworder": "top to bottom"},
        xaxis={"type": "date"},
    )
    for axis, title, divisor, series in _RESOURCE_PANELS:
        layout["yaxis" + axis[1:]] = {"title": {"text": title}, "rangemode": "tozero"}
        for color, (label, column) in zip(APP_COLORS, series, strict=False):
            for n, (try_id, points) in enumerate(sorted(by_try.items())):
                values = [getattr(p, column) for p in points]
                data.append(
                    {
                        "type": "scatter",
                        "mode": "lines+markers",
                        "name": label if len(by_try) == 1 else f"{label}, try {try_id}",
                        "yaxis": axis,
                        "x": [_time(p.timestamp) for p in points],
                        "y": [None if v is None else v / divisor for v in values],
                        "line": {"color": color, "width": 1.5, "dash": _DASHES[n % len(_DASHES)]},
                        "marker": {"size": 4},
                    }
                )
    return {"data": data, "layout": layout}
