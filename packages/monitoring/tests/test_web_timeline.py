"""The tasks-over-time chart's counts, computed by the database per time bin, and the
reads that keep the workflow page cheap on a large run (apps, failures, versions), on
SQLite and PostgreSQL; and the memo that keeps a run's counts until a status row is added."""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from plait_monitoring.db import schema
from plait_monitoring.db.engine import make_engine, parse_url
from plait_monitoring.db.migrate import ensure_schema
from plait_monitoring.web import charts, queries
from plait_monitoring.web.assets import Assets
from plait_monitoring.web.views import Memo, Request, Views

pytestmark = pytest.mark.timeout(60)

RUN = "timeline-run"
T0 = datetime.datetime(2026, 3, 1, 9, 0, 0)


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


#: (task, state, seconds after T0, try): 4 bins of 1 s from 0 s to 4 s. Rows of a task
#: at the same time are ordered by try, then by the order states are passed through (they
#: are written here the other way round); no row lies on a bin edge but the first and
#: the last.
STATUS = [
    # task 0: pending and launched at the same instant; running in bin 1, done in bin 3
    (0, "launched", 0.0, 0),
    (0, "pending", 0.0, 0),
    (0, "running", 1.5, 0),
    (0, "exec_done", 3.2, 0),
    # task 1: running in bin 0; its first try fails in bin 2 and the second try is
    # pending from that same instant (try 0's row first); it ends failed at the last instant
    (1, "pending", 0.5, 0),
    (1, "launched", 0.6, 0),
    (1, "running", 0.7, 0),
    (1, "pending", 2.1, 1),
    (1, "fail_retryable", 2.1, 0),
    (1, "launched", 3.3, 1),
    (1, "running", 3.6, 1),
    (1, "failed", 4.0, 1),
    # task 2: pending from bin 3 on
    (2, "pending", 3.5, 0),
    # task 3: pending and dep_fail at the same instant in bin 1
    (3, "dep_fail", 1.1, 0),
    (3, "pending", 1.1, 0),
]
#: tasks in each state at the end of each bin; every state passed through has a series
EXPECTED = {
    "pending": [0, 0, 1, 1],
    "launched": [1, 0, 0, 0],
    "running": [1, 2, 1, 0],
    "fail_retryable": [0, 0, 0, 0],
    "exec_done": [0, 0, 0, 1],
    "failed": [0, 0, 0, 1],
    "dep_fail": [0, 1, 1, 1],
}
APPS = {0: "b_app", 1: "a_app", 2: "b_app", 3: "Z_app"}
FINAL = {0: "exec_done", 1: "failed", 2: "pending", 3: "dep_fail"}


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Engine]:
    """A database holding run :data:`RUN` with :data:`STATUS`, on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/monitoring.db"
    else:
        url = request.getfixturevalue("postgres_url")
    parsed = parse_url(url)
    writer = make_engine(parsed, writer=True)
    try:
        ensure_schema(writer, parsed)
        with writer.begin() as c:
            c.execute(
                insert(schema.workflow),
                {
                    "run_id": RUN,
                    "time_began": T0,
                    "time_completed": at(4),
                    "host": "h",
                    "user": "u",
                    "rundir": "/r",
                    "tasks_failed_count": 2,
                    "tasks_completed_count": 1,
                },
            )
            c.execute(
                insert(schema.task),
                [
                    {
                        "task_id": task,
                        "run_id": RUN,
                        "task_func_name": app,
                        "task_fail_count": 0,
                        "task_status_name": FINAL[task],
                        "task_depends": "1" if task == 3 else None,
                    }
                    for task, app in APPS.items()
                ],
            )
            c.execute(insert(schema.status), [_status(*row) for row in STATUS])
    finally:
        writer.dispose()
    reader = make_engine(parsed, writer=False)
    try:
        yield reader
    finally:
        reader.dispose()


def _status(task: int, state: str, seconds: float, try_id: int) -> dict[str, Any]:
    return {
        "task_id": task,
        "run_id": RUN,
        "task_status_name": state,
        "timestamp": at(seconds),
        "try_id": try_id,
    }


def test_tasks_are_counted_in_the_state_they_were_in_at_the_end_of_each_bin(
    engine: Engine,
) -> None:
    with engine.connect() as c:
        data = queries.state_timeline(c, RUN, 4)
    assert data.edges == [at(i) for i in range(5)]
    assert data.in_state == EXPECTED
    assert list(data.in_state) == list(EXPECTED)  # in the order tasks pass through states
    # the chart draws a step per bin and repeats the last bin's counts at the end
    figure = charts.timeline(data)
    assert figure is not None
    assert [trace["name"] for trace in figure["data"]] == list(EXPECTED)
    for trace in figure["data"]:
        assert len(trace["x"]) == len(trace["y"]) == 5
        assert trace["y"] == [*EXPECTED[trace["name"]], EXPECTED[trace["name"]][-1]]


def test_the_number_of_bins_bounds_the_points_whatever_the_rows(engine: Engine) -> None:
    with engine.connect() as c:
        for bins in (1, 2, 7, 1000):
            data = queries.state_timeline(c, RUN, bins)
            assert len(data.edges) == bins + 1
            assert {len(counts) for counts in data.in_state.values()} == {bins}
            at_end = {state: counts[-1] for state, counts in data.in_state.items()}
            assert at_end == {state: counts[-1] for state, counts in EXPECTED.items()}
            assert all(sum(n[i] for n in data.in_state.values()) <= 4 for i in range(bins))
        assert queries.state_timeline(c, "no-such-run", 10) == queries.StateTimeline([], {})


def test_apps_failures_and_versions_of_a_run(engine: Engine) -> None:
    with engine.connect() as c:
        assert queries.apps(c, RUN) == sorted(set(APPS.values()))
        assert queries.apps(c, "no-such-run") == []
        failed = queries.failed_tasks(c, RUN)
        assert {i: (t.app, t.state, t.depends) for i, t in failed.items()} == {
            1: ("a_app", "failed", ()),
            3: ("Z_app", "dep_fail", (1,)),
        }
        runs, total = queries.workflows(c, 0, 10)
        assert total == 1 and runs[0].counts == {state: 1 for state in FINAL.values()}
        assert not queries.run_version(c, RUN).live


def test_the_timeline_is_read_again_once_a_status_row_is_added(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    views = Views(engine, Assets())
    reads: list[str] = []
    state_timeline = queries.state_timeline

    def counted(*args: Any) -> queries.StateTimeline:
        reads.append(args[1])
        return state_timeline(*args)

    monkeypatch.setattr(queries, "state_timeline", counted)

    def final_states() -> dict[str, int]:
        body = views.timeline(Request("/", {}), RUN).body
        figure = json.loads(body)["figure"]
        return {trace["name"]: trace["y"][-1] for trace in figure["data"]}

    ended = {state: counts[-1] for state, counts in EXPECTED.items()}
    assert final_states() == ended
    assert final_states() == ended
    assert reads == [RUN]  # kept
    with engine.connect() as c:
        before = (queries.status_version(c, RUN), queries.run_version(c, RUN).version)
    writer = make_engine(engine.url, writer=True)
    try:
        with writer.begin() as c:
            c.execute(insert(schema.status), _status(2, "launched", 5.0, 0))
    finally:
        writer.dispose()
    with engine.connect() as c:
        after = (queries.status_version(c, RUN), queries.run_version(c, RUN).version)
    assert after[0] != before[0] and after[1] != before[1]
    assert final_states() == {**ended, "launched": 1, "pending": 0}
    assert reads == [RUN, RUN]


def test_the_memo_computes_once_per_version_and_forgets_the_least_used() -> None:
    memo: Memo[str] = Memo(size=2)
    calls: list[str] = []
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        calls.append("slow")
        started.set()
        release.wait(10)
        return "a1"

    found: list[str] = []
    waiting = [threading.Thread(target=lambda: found.append(memo.get("a", "1", slow)))]
    waiting[0].start()
    started.wait(10)
    waiting.append(threading.Thread(target=lambda: found.append(memo.get("a", "1", slow))))
    waiting[1].start()
    release.set()
    for thread in waiting:
        thread.join(10)
    assert found == ["a1", "a1"] and calls == ["slow"]  # computed once for both

    def make(value: str) -> Callable[[], str]:
        def compute() -> str:
            calls.append(value)
            return value

        return compute

    assert memo.get("a", "2", make("a2")) == "a2"  # a new version is computed
    assert memo.get("a", "2", make("never")) == "a2"
    assert memo.get("b", "1", make("b1")) == "b1"
    assert memo.get("c", "1", make("c1")) == "c1"  # "a" was used least recently
    assert memo.get("b", "1", make("never")) == "b1"
    assert memo.get("a", "2", make("a2 again")) == "a2 again"
    assert calls == ["slow", "a2", "b1", "c1", "a2 again"]
