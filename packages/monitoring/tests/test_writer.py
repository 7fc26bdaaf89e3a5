"""The writer's parts on their own: the spill buffer keeps order and bounds memory, and a
record the database refuses is set aside without holding up the others."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from monitoring_helpers import query, sqlite_url

from plait.events import TaskStateChanged, WorkflowStarted
from plait.testing import wait_until
from plait_monitoring import writer as writer_module
from plait_monitoring.buffer import SpillBuffer
from plait_monitoring.db.engine import parse_url
from plait_monitoring.db.store import Store
from plait_monitoring.rows import Op, RowMaker
from plait_monitoring.writer import Writer

pytestmark = pytest.mark.timeout(60)


def _op(i: int) -> Op:
    return ("status", {"task_id": i})


def test_spill_buffer_is_fifo_across_memory_and_file(tmp_path: Path) -> None:
    path = tmp_path / "spill.jsonl"
    buffer = SpillBuffer(str(path), limit=3)
    for i in range(10):
        buffer.append(_op(i))
    assert len(path.read_text().splitlines()) == 8 and len(buffer) == 10  # 2 in memory
    seen = []
    while buffer:
        batch = buffer.peek(4)
        seen += [row["task_id"] for _, row in batch]
        buffer.drop(len(batch))
    assert seen == list(range(10))
    assert not path.exists()


def test_spill_buffer_peeks_again_until_dropped(tmp_path: Path) -> None:
    path = tmp_path / "spill.jsonl"
    buffer = SpillBuffer(str(path), limit=1)
    for i in range(4):
        buffer.append(_op(i))
    assert buffer.peek(2) == buffer.peek(2) == [_op(0), _op(1)]  # a failed write retries it
    buffer.drop(2)
    buffer.append(_op(4))
    batches = []
    while buffer:
        batch = buffer.peek(10)  # a batch comes from the file or from memory, never both
        batches.append([row["task_id"] for _, row in batch])
        buffer.drop(len(batch))
    assert batches == [[2, 3], [4]]


def test_a_spill_file_left_behind_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / "spill.jsonl"
    path.write_text("".join(json.dumps(_op(i)) + "\n" for i in range(3)))
    buffer = SpillBuffer(str(path), limit=10)
    assert len(buffer) == 3 and buffer.peek(5) == [_op(0), _op(1), _op(2)]


def _workflow(run: str) -> Op:
    row = {
        "run_id": run,
        "workflow_name": "w",
        "workflow_version": "1",
        "time_began": time.time(),
        "host": "h",
        "user": "u",
        "rundir": "/tmp",
        "tasks_failed_count": 0,
        "tasks_completed_count": 0,
    }
    return ("workflow", row)


def _task(run: str, task_id: int, func_name: str | None) -> Op:
    row = {"run_id": run, "task_id": task_id, "task_func_name": func_name, "task_fail_count": 0}
    return ("task", row)


def test_a_refused_record_is_set_aside_and_the_rest_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="plait.monitoring")
    url = sqlite_url(str(tmp_path))
    rejected = tmp_path / "rejected.jsonl"
    writer = Writer(
        Store(parse_url(url)),
        RowMaker("w", None),
        SpillBuffer(str(tmp_path / "spill.jsonl"), 100),
        str(rejected),
    )
    good = [_workflow("r"), *(_task("r", i, "f") for i in range(5))]
    for op in [*good[:3], _task("r", 99, None), *good[3:]]:  # task_func_name is NOT NULL
        writer.buffer.append(op)
    writer.start()
    wait_until(lambda: writer.written == 7, 10, what="the batch to be handled")
    writer.close(timeout=5)
    assert query(url, "SELECT task_id FROM task ORDER BY task_id") == [(i,) for i in range(5)]
    (line,) = rejected.read_text().splitlines()
    refused = json.loads(line)
    assert refused["op"][1]["task_id"] == 99 and "NOT NULL" in refused["error"]
    assert any("refused 1 records" in r.getMessage() for r in caplog.records)


def test_close_is_bounded_when_the_database_never_answers(tmp_path: Path) -> None:
    # a directory where the database file should be: SQLite can never open it
    (tmp_path / "monitoring.db").mkdir()
    writer = Writer(
        Store(parse_url(sqlite_url(str(tmp_path)))),
        RowMaker("w", None),
        SpillBuffer(str(tmp_path / "spill.jsonl"), 100),
        str(tmp_path / "rejected.jsonl"),
    )
    writer.buffer.append(_workflow("r"))
    writer.start()
    started = time.monotonic()
    writer.close(timeout=1.0)
    assert time.monotonic() - started < 5
    assert (tmp_path / "spill.jsonl").read_text().count("\n") == 1


def test_every_queued_event_is_recorded_across_drain_rounds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread takes at most DRAIN events from the queue between two writes; none may
    fall between two rounds."""
    monkeypatch.setattr(writer_module, "DRAIN", 3)
    url = sqlite_url(str(tmp_path))
    writer = Writer(
        Store(parse_url(url)),
        RowMaker("w", None),
        SpillBuffer(str(tmp_path / "spill.jsonl"), 100),
        str(tmp_path / "rejected.jsonl"),
    )
    now = time.time()
    writer.put(WorkflowStarted("r", str(tmp_path), ("threads",), now))
    for i in range(10):
        writer.put(TaskStateChanged("r", i, "f", "pending", 0, "threads", now + i, now + i))
    writer.start()
    writer.close(timeout=5)
    assert query(url, "SELECT count(*) FROM status") == [(10,)]


def _story(run: str) -> list[TaskStateChanged]:
    """Task state changes of a run: a task done in one go, one retried, one failed for good."""
    events = []
    for tid, states in (
        (0, ("pending", "launched", "running", "exec_done")),
        (1, ("pending", "launched", "running", "fail_retryable", "launched", "running")),
        (1, ("exec_done",)),
        (2, ("pending", "launched", "failed")),
    ):
        try_id = 0
        running = None  # events carry their try's story so far, as the kernel's do
        for i, state in enumerate(states):
            if state == "launched" and i > 1:
                try_id += 1
            if state == "launched":
                running = None
            elif state == "running" or (tid == 1 and state == "exec_done"):
                running = 100.5
            events.append(
                TaskStateChanged(
                    run,
                    tid,
                    "f",
                    state,
                    try_id if tid != 1 or state != "exec_done" else 1,
                    "threads",
                    100.0 + len(events),
                    99.0,
                    None if state == "pending" else 100.0 + len(events),
                    100.0 + len(events) if state in ("exec_done", "failed") else None,
                    "ValueError: x" if state in ("fail_retryable", "failed") else None,
                    (),
                    "out" if state == "pending" else None,
                    None,
                    state == "pending",
                    running,
                    None if running is None else "0",
                )
            )
    return events


def test_a_batch_of_task_changes_makes_the_rows_its_events_make_one_by_one(
    tmp_path: Path,
) -> None:
    """RowMaker.task_changes writes fewer rows than per-event rows would, the same content."""
    run = "r"
    tables: dict[str, dict[str, list[Any]]] = {}
    for way in ("one_by_one", "batch"):
        url = sqlite_url(str(tmp_path / way))
        (tmp_path / way).mkdir()
        store = Store(parse_url(url))
        rows = RowMaker("w", "1")
        ops = rows.rows(WorkflowStarted(run, "/tmp", ("threads",), 1.0))
        events = _story(run)
        if way == "batch":
            ops += rows.task_changes(events[:5]) + rows.task_changes(events[5:])
        else:
            for event in events:
                ops += rows.rows(event)
        store.write(ops)
        store.dispose()
        tables[way] = {
            table: query(url, f'SELECT * FROM "{table}" ORDER BY 1, 2, 3')
            for table in ("task", "try", "status")
        }
    for table, rows_one_by_one in tables["one_by_one"].items():
        assert tables["batch"][table] == rows_one_by_one, table
    assert len(tables["batch"]["try"]) == 4 and len(tables["batch"]["status"]) == 14


def test_task_state_rows_are_tuples_in_their_tables_column_order() -> None:
    """The recorder's hot path hands task_changes' tuples to the driver unchanged, so
    their order must be the tables' own."""
    from plait_monitoring.db import schema
    from plait_monitoring.rows import TUPLE_COLUMNS

    tables = {"status": schema.status, "task": schema.task, "try": schema.try_}
    for kind, columns in TUPLE_COLUMNS.items():
        assert columns == tuple(c.name for c in tables[kind].columns), kind
    ops = RowMaker("w", "1").task_changes(_story("r"))
    assert {type(row) for _, row in ops} == {tuple}
    assert all(len(row) == len(TUPLE_COLUMNS[kind]) for kind, row in ops)


def test_tuple_rows_spilled_to_a_file_and_read_back_are_written(tmp_path: Path) -> None:
    url = sqlite_url(str(tmp_path))
    rows = RowMaker("w", "1")
    ops = rows.rows(WorkflowStarted("r", "/tmp", ("threads",), 1.0)) + rows.task_changes(
        _story("r")
    )
    buffer = SpillBuffer(str(tmp_path / "spill.jsonl"), limit=1)
    for op in ops:
        buffer.append(op)
    read_back = buffer.peek(len(ops))
    assert [kind for kind, _ in read_back] == [kind for kind, _ in ops]
    store = Store(parse_url(url))
    store.write(read_back)
    store.dispose()
    assert query(url, "SELECT COUNT(*) FROM status") == [(14,)]
    assert query(url, 'SELECT COUNT(*) FROM "try"') == [(4,)]
