"""Reading what a hub wrote, and a workflow to record, for plait-monitoring's tests."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import text

import plait
from plait import Config, ThreadPoolExecutor
from plait.testing import wait_until
from plait_monitoring import MonitoringHub
from plait_monitoring.db.engine import make_engine, parse_url

TESTS_DIR = Path(__file__).resolve().parent
#: status rows of a task that succeeds at its first try: pending, launched, running, exec_done
STATUSES_PER_TASK = 4


def sqlite_url(runs_root: str) -> str:
    """The database a hub with no URL writes for runs under ``runs_root``."""
    return f"sqlite:///{runs_root}/monitoring.db"


def query(url: str, sql: str, **params: Any) -> list[Any]:
    """The rows of ``sql`` on the database at ``url``."""
    engine = make_engine(parse_url(url), writer=False)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql), params).all())
    finally:
        engine.dispose()


def counts(url: str, run_id: str) -> dict[str, int]:
    """Rows of run ``run_id`` in each table (0 where the tables do not exist yet)."""
    found = {}
    for table in ("task", "try", "status", "block"):
        try:
            found[table] = query(
                url, f'SELECT count(*) FROM "{table}" WHERE run_id = :run', run=run_id
            )[0][0]
        except Exception:  # the schema is created by the writer's first transaction
            found[table] = 0
    return found


def wait_counts(url: str, run_id: str, expected: dict[str, int], timeout: float) -> None:
    """Wait until run ``run_id`` has (at least the tables of) ``expected`` rows."""

    def reached() -> dict[str, int] | None:
        now = counts(url, run_id)
        return now if all(now[t] == n for t, n in expected.items()) else None

    wait_until(reached, timeout, interval=0.05, what=f"row counts {expected} of run {run_id}")


def record_at_once(url: str, runs_roots: list[Path], tasks: int, timeout: float) -> list[str]:
    """Run one ``record_workflow.py`` process per runs root, all at once, into ``url``.

    :returns: their run ids.
    """
    script = str(TESTS_DIR / "record_workflow.py")
    procs = [
        subprocess.Popen(
            [sys.executable, script, url, str(root), str(tasks)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for root in runs_roots
    ]
    run_ids = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err
        run_ids.append(out.strip())
    return run_ids


def threads_config(runs_root: str, hub: MonitoringHub, **overrides: Any) -> Config:
    """Four threads, runs under ``runs_root``, recorded by ``hub``."""
    overrides.setdefault("executors", [ThreadPoolExecutor(max_threads=4)])
    return Config(run_dir=runs_root, monitoring=hub, **overrides)


@plait.python_app
def double(x: int) -> int:
    return 2 * x


@plait.python_app
def fail(message: str) -> None:
    raise ValueError(message)


@plait.python_app
def add(a: int, b: int) -> int:
    return a + b


@plait.python_app
def wait_for(gate: threading.Event, timeout: float = 30.0) -> bool:
    return gate.wait(timeout)
