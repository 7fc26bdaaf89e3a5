"""What the UI's endpoints compute, on SQLite and on a real PostgreSQL server: marks per
try/task/dependency, states over time that add up, and caps that hold on a large run."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from web_helpers import (
    KNOWN_ERROR,
    KnownRun,
    count_rows,
    insert_synthetic_run,
    record_known_run,
)

from plait_monitoring.web import MonitoringWebServer
from plait_monitoring.web.views import DAG_CAP, GANTT_CAP, TASKS_PER_PAGE

pytestmark = pytest.mark.timeout(120)


@contextmanager
def served(db_url: str) -> Iterator[str]:
    """The base URL of a UI server over ``db_url``, for the duration."""
    with MonitoringWebServer(db_url) as server:
        server.start()
        yield f"http://127.0.0.1:{server.port}"


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read().decode()


def figure(base: str, path: str) -> dict[str, Any]:
    status, body = get(base + path)
    assert status == 200
    answer: dict[str, Any] = json.loads(body)
    return answer


def points(fig: dict[str, Any], kind: str, mode: str | None = None) -> int:
    return sum(
        len(trace["x"])
        for trace in fig["data"]
        if trace["type"] == kind and (mode is None or trace.get("mode") == mode)
    )


def final_states(fig: dict[str, Any]) -> dict[str, int]:
    return {trace["name"]: trace["y"][-1] for trace in fig["data"]}


def check_known_run(base: str, run: KnownRun) -> None:
    api = f"/api/workflow/{run.run_id}"
    gantt = figure(base, f"{api}/gantt")["figure"]
    assert points(gantt, "bar") == run.tries
    dag = figure(base, f"{api}/dag")["figure"]
    assert points(dag, "scatter", "markers") == run.tasks
    assert dag["data"][0]["x"].count(None) == run.edges  # one gap after each edge
    by_app = figure(base, f"{api}/dag?color=app")["figure"]
    assert sorted(trace["name"] for trace in by_app["data"][1:]) == list(run.apps)
    timeline = figure(base, f"{api}/timeline")["figure"]
    ended = {state: n for state, n in final_states(timeline).items() if n}
    assert ended == {"exec_done": 4, "failed": 1, "dep_fail": 2}
    resources = figure(base, f"{api}/task/{run.root}/resources")["figure"]
    samples = count_rows(run.url, "resource", run.run_id, task_id=run.root)
    assert samples > 0 and points(resources, "scatter") == 6 * samples
    for page in ("/", f"/workflow/{run.run_id}", f"/workflow/{run.run_id}/tasks"):
        assert get(base + page)[0] == 200
    status, html = get(f"{base}/workflow/{run.run_id}/task/{run.dep_fails[-1]}")
    assert status == 200
    assert "ValueError: boom &lt;img src=x onerror=window.__xss=1&gt;" in html
    assert KNOWN_ERROR not in html


def test_known_run_on_sqlite(tmp_path: Path) -> None:
    run = record_known_run(f"sqlite:///{tmp_path}/monitoring.db", tmp_path / "runinfo")
    with served(run.url) as base:
        check_known_run(base, run)


def test_known_run_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    run = record_known_run(postgres_url, tmp_path / "runinfo")
    with served(postgres_url) as base:
        check_known_run(base, run)


def test_a_large_run_is_drawn_within_caps(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/monitoring.db"
    run = insert_synthetic_run(db_url, tasks=5_000)
    assert run.failed and run.dep_fail
    api = f"/api/workflow/{run.run_id}"
    with served(db_url) as base:
        gantt = figure(base, f"{api}/gantt")
        assert 0 < points(gantt["figure"], "bar") <= GANTT_CAP
        assert "tries drawn (those of every" in gantt["note"]
        dag = figure(base, f"{api}/dag")
        assert points(dag["figure"], "scatter", "markers") == DAG_CAP
        assert dag["note"] == f"The first {DAG_CAP:,} of 5,000 tasks drawn (by task id)."
        ended = final_states(figure(base, f"{api}/timeline")["figure"])
        assert ended["exec_done"] == run.tasks - run.failed - run.dep_fail
        assert (ended["failed"], ended["dep_fail"]) == (run.failed, run.dep_fail)
        assert sum(ended.values()) == run.tasks
        status, html = get(f"{base}/workflow/{run.run_id}?fpage=2")
        assert status == 200 and "failed tasks 51 to " in html
        status, html = get(f"{base}/workflow/{run.run_id}/tasks?page=3")
        first = 2 * TASKS_PER_PAGE
        assert status == 200 and f">{first}</a>" in html and f"tasks {first + 1:,} to" in html
