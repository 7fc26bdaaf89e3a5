"""What each URL answers: read the database (one connection per request), render.

Views know nothing of sockets: they take a :class:`Request` and return a
:class:`Response`, so the server is a thin layer and the views can be called
directly. Caps on what charts draw live here, next to the reads they bound.
"""

from __future__ import annotations

import datetime
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Connection, Engine

from plait_monitoring.summary import state_counts
from plait_monitoring.web import charts, lists, queries, task_page, workflow_page
from plait_monitoring.web.assets import Assets
from plait_monitoring.web.failures import run_failures, task_root_causes
from plait_monitoring.web.html import Html
from plait_monitoring.web.layout import PER_PAGE, Pagination
from plait_monitoring.web.urls import task as task_url

#: the most tries the Gantt chart draws (beyond, it draws every n-th task's)
GANTT_CAP = 1500
#: time bins of the tasks-over-time chart
TIMELINE_BINS = 150
#: the most tasks the DAG draws
DAG_CAP = 800
#: the most resource samples of one task drawn
RESOURCE_CAP = 10_000
#: the most dependents listed on a task's page
DEPENDENTS_CAP = 1000
#: rows of the tasks list
TASKS_PER_PAGE = 100
#: runs whose tasks-over-time data is kept between requests
TIMELINES_KEPT = 32

T = TypeVar("T")


class NotFound(Exception):
    """The URL names no page, run or task; the message says which."""


@dataclass(frozen=True)
class Request:
    """A GET request: path, decoded query (first value of each name), lower-cased headers."""

    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)

    def page(self, name: str = "page") -> int:
        """Page number ``name`` from the query: a positive integer, else 1."""
        value = self.query.get(name, "1")
        return int(value) if value.isdigit() and int(value) > 0 else 1


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def html_response(page: Html, status: int = 200) -> Response:
    return Response(status, "text/html; charset=utf-8", page.encode())


def json_response(value: Any) -> Response:
    body = json.dumps(value, separators=(",", ":"), default=str).encode()
    return Response(200, "application/json", body, (("Cache-Control", "no-store"),))


def chart_response(figure: charts.Figure | None, note: str, empty: str) -> Response:
    """A chart's JSON: the figure, or None with ``empty`` saying why there is nothing to draw."""
    return json_response({"figure": figure, "note": note if figure else empty})


class Memo(Generic[T]):
    """Values slow to compute, kept by key for as long as their version stays the same.

    One value per key (that of the newest version asked for), at most ``size`` keys
    (the least recently used go first). Threads asking for the same key wait for one
    computation rather than each running it.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, tuple[str, T]] = OrderedDict()
        self._computing: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: str, compute: Callable[[], T]) -> T:
        """The value of ``key`` at ``version``: kept, or ``compute()``-d and kept."""
        with self._lock:
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:
            with self._lock:
                kept = self._values.get(key)
                if kept is not None and kept[0] == version:
                    self._values.move_to_end(key)
                    return kept[1]
            value = compute()
            with self._lock:
                self._values[key] = (version, value)
                self._values.move_to_end(key)
                while len(self._values) > self.size:
                    dropped, _ = self._values.popitem(last=False)
                    self._computing.pop(dropped, None)
            return value


class Views:
    """The pages and JSON endpoints, over one engine; each reads in one connection."""

    def __init__(self, engine: Engine, assets: Assets) -> None:
        self.engine = engine
        self.assets = assets
        # counting the tasks in each state over time reads every status row of the run
        # (a second for 100,000 tasks in SQLite): done again only when a row is added
        self.timelines: Memo[queries.StateTimeline] = Memo(TIMELINES_KEPT)

    # -- pages -------------------------------------------------------------------

    def workflows(self, request: Request) -> Response:
        page = request.page()
        with self.engine.connect() as c:
            version = queries.runs_version(c)
            runs, total = queries.workflows(c, (page - 1) * PER_PAGE, PER_PAGE)
        return html_response(
            lists.workflows_page(runs, Pagination(page, total), version, self.assets)
        )

    def workflow(self, request: Request, run_id: str) -> Response:
        # each table pages on its own; links keep the others' pages
        params: dict[str, int] = {
            n: request.page(n) for n in ("fpage", "bpage", "npage") if n in request.query
        }
        bpage, npage = request.page("bpage"), request.page("npage")
        with self.engine.connect() as c:
            wf = _workflow(c, run_id)
            version = queries.run_version(c, run_id)
            failures = run_failures(c, run_id)
            blocks, block_total = queries.blocks(c, run_id, (bpage - 1) * PER_PAGE, PER_PAGE)
            nodes, node_total = queries.nodes(c, run_id, (npage - 1) * PER_PAGE, PER_PAGE)
            counts = state_counts(c, run_id)
        view = workflow_page.WorkflowView(
            wf,
            counts,
            failures,
            Pagination(request.page("fpage"), len(failures.tasks)),
            blocks,
            Pagination(bpage, block_total),
            nodes,
            Pagination(npage, node_total),
            params,
        )
        return html_response(workflow_page.workflow_page(view, version, self.assets))

    def tasks(self, request: Request, run_id: str) -> Response:
        app = request.query.get("app") or None
        state = request.query.get("state") or None
        page = request.page()
        offset = (page - 1) * TASKS_PER_PAGE
        with self.engine.connect() as c:
            wf = _workflow(c, run_id)
            version = queries.run_version(c, run_id)
            found, total = queries.tasks_page(c, run_id, app, state, offset, TASKS_PER_PAGE)
            counts = state_counts(c, run_id)
        states = queries.ordered_states({s for by_state in counts.values() for s in by_state})
        return html_response(
            lists.tasks_page(
                wf,
                found,
                Pagination(page, total, TASKS_PER_PAGE),
                sorted(counts),
                states,
                app,
                state,
                version,
                self.assets,
            )
        )

    def task(self, request: Request, run_id: str, task_id: str) -> Response:
        with self.engine.connect() as c:
            wf = _workflow(c, run_id)
            task = queries.task(c, run_id, int(task_id))
            if task is None:
                raise NotFound(f"run {run_id} has no task {task_id}")
            version = queries.run_version(c, run_id, task.task_id)
            view = task_page.TaskView(
                wf,
                task,
                queries.task_tries(c, run_id, task.task_id),
                queries.status_history(c, run_id, task.task_id),
                queries.dependents(c, run_id, task.task_id, DEPENDENTS_CAP),
                task_root_causes(c, run_id, task),
                queries.resource_count(c, run_id, task.task_id),
            )
        return html_response(task_page.task_page(view, version, self.assets))

    # -- JSON --------------------------------------------------------------------

    def version(self, request: Request) -> Response:
        run = request.query.get("run")
        task = request.query.get("task", "")
        with self.engine.connect() as c:
            if run is None:
                v = queries.runs_version(c)
            else:
                v = queries.run_version(c, run, int(task) if task.isdigit() else None)
        return json_response({"version": v.version, "live": v.live})

    def gantt(self, request: Request, run_id: str) -> Response:
        with self.engine.connect() as c:
            sample = queries.tries_sample(c, run_id, GANTT_CAP)
            colors = charts.app_colors(queries.apps(c, run_id))
        figure = charts.gantt(sample, colors, _task_urls(run_id), datetime.datetime.now())
        return chart_response(figure, charts.gantt_note(sample), "No try has started yet.")

    def timeline(self, request: Request, run_id: str) -> Response:
        with self.engine.connect() as c:
            # the version is read first: what is kept is never older than its version
            data = self.timelines.get(
                run_id,
                queries.status_version(c, run_id),
                lambda: queries.state_timeline(c, run_id, TIMELINE_BINS),
            )
        return chart_response(charts.timeline(data), "", "No task yet.")

    def dag(self, request: Request, run_id: str) -> Response:
        color = "app" if request.query.get("color") == "app" else "state"
        with self.engine.connect() as c:
            found, total = queries.dag_tasks(c, run_id, DAG_CAP)
            colors = charts.app_colors(queries.apps(c, run_id))
        figure = charts.dag_figure(found, colors, _task_urls(run_id), color)
        return chart_response(figure, charts.dag_note(len(found), total), "No task yet.")

    def resources(self, request: Request, run_id: str, task_id: str) -> Response:
        with self.engine.connect() as c:
            samples = queries.resources(c, run_id, int(task_id), RESOURCE_CAP)
            total = queries.resource_count(c, run_id, int(task_id))
        note = f"The first {len(samples):,} of {total:,} samples." if total > len(samples) else ""
        return chart_response(
            charts.resource_figure(samples), note, "No resource samples recorded."
        )


def _workflow(connection: Connection, run_id: str) -> queries.Workflow:
    wf = queries.workflow(connection, run_id)
    if wf is None:
        raise NotFound(f"this database has no run {run_id}")
    return wf


def _task_urls(run_id: str) -> Callable[[int], str]:
    return lambda task_id: task_url(run_id, task_id)
