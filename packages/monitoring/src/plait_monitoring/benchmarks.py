"""``plait perf --only monitoring`` and ``--only monitoring-100k``: what recording a run costs.

``monitoring`` (the overhead): no-op tasks per second with and without a
:class:`~plait_monitoring.MonitoringHub` (SQLite, ``resource_monitoring_enabled=False``),
in interleaved rounds (off, on, off, on, ...), each round a workflow of its own: a
warm-up, then N no-op tasks submitted at once and all waited for (core's ``noop``
benchmark, :func:`plait.perf.bench_noop`). On the threads executor and on HTEX (looked
up by its registered name, ``htex``; left out, with the reason, when it is not
installed). Per executor: the median tasks/s off and on, the overhead in percent, the
median time from the last result to the end of the ``with plait.load(...)`` block (for
the hub, writing what is left), and after each monitored round whether every row
arrived (:func:`count_run_rows`).

``monitoring-100k``: 100,000 no-op tasks on threads recorded in SQLite: tasks/s, the
exit (every row written), a check that the ``task`` table holds exactly task ids
0..99,999 of the run with all their states, and the web UI's times for that run: the
workflow page's HTML and each JSON endpoint its charts load, served on a free port of
127.0.0.1 in this process and fetched with urllib (median of a few fetches each).

Sizes come from the constructors' arguments, else from the environment, else the
defaults (``PLAIT_PERF_MONITORING_*``, listed on each class), so ``plait perf`` can run
them small. ``benchmarks/monitoring_side.py`` runs ``monitoring`` beside Parsl's hub.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import time
import urllib.request
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import plait
from plait.benchmarks import Benchmark
from plait.config import Config
from plait.perf import bench_noop

__all__ = ["Monitoring100kBenchmark", "MonitoringOverheadBenchmark", "count_run_rows"]

#: the states every no-op task passes through; ``running`` is reported by executors
#: that know when a task's body starts (threads does, not every executor does yet)
REQUIRED_STATES = ("pending", "launched", "exec_done")
EXECUTORS = ("threads", "htex")


def _setting(value: Any, env: str, default: Any, cast: Callable[[str], Any] = int) -> Any:
    """``value`` if given, else ``$env`` cast, else ``default``."""
    if value is not None:
        return value
    raw = os.environ.get(env, "").strip()
    return cast(raw) if raw else default


def _executor_class(name: str) -> tuple[type[Any] | None, str | None]:
    """The executor class registered as ``name``, or None and why not (not installed)."""
    from plait.plugins import get_plugins
    from plait.plugins.errors import PluginError

    try:
        return get_plugins().lookup("executor", name), None
    except PluginError as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _hub(db_path: str) -> Any:
    from plait_monitoring import MonitoringHub

    return MonitoringHub(db_url=f"sqlite:///{db_path}", resource_monitoring_enabled=False)


def count_run_rows(db_path: str, run_id: str, n: int) -> dict[str, Any]:
    """What a finished run of ``n`` no-op tasks left in the SQLite database at ``db_path``.

    Works on Parsl's databases too (same tables). ``rows_complete`` means: ``n`` rows in
    ``task`` and in ``try``, task ids exactly 0..n-1, and in ``status`` every state that
    appears at all appears once per task, the required ones (``pending``, ``launched``,
    ``exec_done``) among them.
    """
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:

        def one(sql: str, *args: Any) -> int:
            return int(connection.execute(sql, (run_id, *args)).fetchone()[0])

        task_rows = one("SELECT COUNT(*) FROM task WHERE run_id = ?")
        ids_present = one(
            "SELECT COUNT(DISTINCT task_id) FROM task WHERE run_id = ? AND task_id BETWEEN 0 AND ?",
            n - 1,
        )
        try_rows = one('SELECT COUNT(*) FROM "try" WHERE run_id = ?')
        by_state = {
            str(state): int(count)
            for state, count in connection.execute(
                "SELECT task_status_name, COUNT(*) FROM status WHERE run_id = ? "
                "GROUP BY task_status_name",
                (run_id,),
            )
        }
    finally:
        connection.close()
    status_rows = sum(by_state.values())
    complete = (
        task_rows == n
        and ids_present == n
        and try_rows == n
        and all(by_state.get(state) == n for state in REQUIRED_STATES)
        and all(count == n for count in by_state.values())
    )
    return {
        "task_rows": task_rows,
        "task_ids_missing": n - ids_present,
        "try_rows": try_rows,
        "status_rows": status_rows,
        "status_by_state": by_state,
        "status_rows_per_task": status_rows / n if n else 0.0,
        "rows_complete": complete,
    }


def _noop_run(
    executor_cls: type[Any], work_dir: str, tag: str, n: int, warmup: int, monitored: bool
) -> dict[str, Any]:
    """One workflow: ``warmup`` then ``n`` timed no-op tasks, with or without a hub."""
    db_path = os.path.join(work_dir, f"{tag}.db")
    config = Config(
        executors=[executor_cls()],
        run_dir=os.path.join(work_dir, tag),
        initialize_logging=True,
        monitoring=_hub(db_path) if monitored else None,
    )
    with plait.load(config) as dfk:
        if warmup:
            bench_noop(warmup)
        rate = bench_noop(n)["noop_tasks_per_s"]
        done = time.perf_counter()
    result: dict[str, Any] = {
        "monitoring": monitored,
        "tasks_per_s": rate,
        "exit_s": time.perf_counter() - done,
    }
    if monitored:
        result.update(count_run_rows(db_path, dfk.run_id, warmup + n))
    return result


def summarize_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over rounds of :func:`_noop_run` (or Parsl's, from the side script):
    tasks/s off and on, the overhead, exit times (of exits that ended; a round may
    say ``"hung": True``), status rows per task and whether every row arrived."""
    off = [r for r in rounds if not r["monitoring"]]
    on = [r for r in rounds if r["monitoring"]]
    off_rate = statistics.median(r["tasks_per_s"] for r in off)
    on_rate = statistics.median(r["tasks_per_s"] for r in on)
    return {
        "off_tasks_per_s": off_rate,
        "on_tasks_per_s": on_rate,
        "overhead_pct": (off_rate - on_rate) / off_rate * 100,
        "off_exit_s": _median_exit(off),
        "on_exit_s": _median_exit(on),
        "hung_exits": sum(1 for r in rounds if r.get("hung")),
        "status_rows_per_task": statistics.median(r["status_rows_per_task"] for r in on),
        "rows_complete": all(r["rows_complete"] for r in on),
        "states": sorted({s for r in on for s in r["status_by_state"]}),
    }


def _median_exit(rounds: list[dict[str, Any]]) -> float:
    """The median exit time of the rounds whose exit ended (inf if none did)."""
    ended = [r["exit_s"] for r in rounds if r["exit_s"] is not None]
    return statistics.median(ended) if ended else float("inf")


#: the figures of :func:`summarize_rounds` that ``plait perf`` reports per executor
_REPORTED = (
    "off_tasks_per_s",
    "on_tasks_per_s",
    "overhead_pct",
    "off_exit_s",
    "on_exit_s",
    "status_rows_per_task",
    "rows_complete",
)


class MonitoringOverheadBenchmark(Benchmark):
    """No-op tasks/s without and with a MonitoringHub, on threads and HTEX.

    :param n_threads: timed tasks per round on threads
        (``$PLAIT_PERF_MONITORING_N_THREADS``, default 50,000).
    :param n_htex: timed tasks per round on HTEX (``$PLAIT_PERF_MONITORING_N_HTEX``,
        default 20,000).
    :param rounds: rounds with monitoring off and as many on, alternating
        (``$PLAIT_PERF_MONITORING_ROUNDS``, default 3).
    :param warmup: untimed tasks at the start of each round
        (``$PLAIT_PERF_MONITORING_WARMUP``, default 1,000).
    :param executors: executor names to measure (``$PLAIT_PERF_MONITORING_EXECUTORS``,
        comma-separated, default ``threads,htex``).
    """

    plugin_name = "monitoring"
    description = "no-op tasks/s without and with MonitoringHub (SQLite), threads and htex"
    labels = {
        key: value
        for ex in EXECUTORS
        for key, value in {
            f"monitoring_{ex}_off_tasks_per_s": (f"{ex}: monitoring off", "{:,.0f} tasks/s"),
            f"monitoring_{ex}_on_tasks_per_s": (f"{ex}: monitoring on", "{:,.0f} tasks/s"),
            f"monitoring_{ex}_overhead_pct": (f"{ex}: overhead", "{:.1f}%"),
            f"monitoring_{ex}_off_exit_s": (f"{ex}: exit, off", "{:.3f} s"),
            f"monitoring_{ex}_on_exit_s": (f"{ex}: exit, on", "{:.3f} s"),
            f"monitoring_{ex}_status_rows_per_task": (f"{ex}: status rows/task", "{:.2f}"),
            f"monitoring_{ex}_rows_complete": (f"{ex}: all rows recorded", "{}"),
        }.items()
    }

    def __init__(
        self,
        n_threads: int | None = None,
        n_htex: int | None = None,
        rounds: int | None = None,
        warmup: int | None = None,
        executors: tuple[str, ...] | None = None,
    ) -> None:
        self.n = {
            "threads": _setting(n_threads, "PLAIT_PERF_MONITORING_N_THREADS", 50_000),
            "htex": _setting(n_htex, "PLAIT_PERF_MONITORING_N_HTEX", 20_000),
        }
        self.rounds: int = _setting(rounds, "PLAIT_PERF_MONITORING_ROUNDS", 3)
        self.warmup: int = _setting(warmup, "PLAIT_PERF_MONITORING_WARMUP", 1_000)
        self.executors: tuple[str, ...] = _setting(
            executors,
            "PLAIT_PERF_MONITORING_EXECUTORS",
            EXECUTORS,
            lambda raw: tuple(name.strip() for name in raw.split(",") if name.strip()),
        )

    def run(self, work_dir: str) -> dict[str, Any]:
        """Each executor's rounds, one workflow each, everything under ``work_dir``."""
        results: dict[str, Any] = {"monitoring_executors": [], "monitoring_warmup": self.warmup}
        for name in self.executors:
            cls, why_not = _executor_class(name)
            if cls is None:
                results[f"monitoring_{name}_skipped"] = why_not
                continue
            results["monitoring_executors"].append(name)
            results.update(self._measure(name, cls, work_dir))
        return results

    def _measure(self, name: str, cls: type[Any], work_dir: str) -> dict[str, Any]:
        n = self.n.get(name, self.n["threads"])
        rounds = []
        for i in range(self.rounds):
            for monitored in (False, True):
                tag = f"{name}-{i}-{'on' if monitored else 'off'}"
                rounds.append(_noop_run(cls, work_dir, tag, n, self.warmup, monitored))
        summary = summarize_rounds(rounds)
        prefix = f"monitoring_{name}"
        return {
            f"{prefix}_n": n,
            **{f"{prefix}_{key}": summary[key] for key in _REPORTED},
            f"{prefix}_rounds": rounds,
        }


class _ChartSources(HTMLParser):
    """The ``data-src`` of every ``data-chart`` element: what the page script fetches."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        src = found.get("data-src")
        if "data-chart" in found and src and src not in self.sources:
            self.sources.append(src)


def _fetch(url: str, accept: str) -> tuple[float, bytes]:
    """Seconds to GET ``url`` (status 200 or an error) and read its body; the body."""
    request = urllib.request.Request(url, headers={"Accept": accept})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        body: bytes = response.read()
    return time.perf_counter() - start, body


def time_workflow_page(db_url: str, run_id: str, fetches: int = 5) -> dict[str, Any]:
    """The web UI over ``db_url`` on a free port of 127.0.0.1, for run ``run_id``: ms to
    fetch the workflow page's HTML (first fetch, and median of ``fetches``) and the
    median ms of each JSON endpoint its charts load, by the last part of its URL
    (``gantt``, ``timeline``, ``dag?color=state``); the server is closed after."""
    from plait_monitoring.web import MonitoringWebServer, urls

    with MonitoringWebServer(db_url, host="127.0.0.1", port=0) as server:
        server.start()
        base = f"http://127.0.0.1:{server.port}"
        page = base + urls.workflow(run_id)
        first, html = _fetch(page, "text/html")
        page_times = [first] + [_fetch(page, "text/html")[0] for _ in range(fetches - 1)]
        parser = _ChartSources()
        parser.feed(html.decode())
        if not parser.sources:
            raise RuntimeError(f"{page} has no charts to load (no data-chart data-src)")
        endpoints: dict[str, float] = {}
        for src in parser.sources:
            times = []
            for _ in range(fetches):
                elapsed, body = _fetch(base + src, "application/json")
                json.loads(body)
                times.append(elapsed)
            endpoints[src.rsplit("/", 1)[1]] = statistics.median(times) * 1000
    page_ms = statistics.median(page_times) * 1000
    slowest = max(endpoints, key=endpoints.__getitem__)
    return {
        "page_first_ms": first * 1000,
        "page_ms": page_ms,
        "endpoint_ms": endpoints,
        "slowest_endpoint": slowest,
        "slowest_endpoint_ms": endpoints[slowest],
        "total_ms": page_ms + sum(endpoints.values()),
    }


class Monitoring100kBenchmark(Benchmark):
    """100,000 no-op tasks on threads into SQLite: rate, exit, every row, UI page times.

    :param n: tasks (``$PLAIT_PERF_MONITORING_100K_N``, default 100,000).
    :param fetches: fetches of each URL, the median kept
        (``$PLAIT_PERF_MONITORING_100K_FETCHES``, default 5).
    """

    plugin_name = "monitoring-100k"
    description = "100,000 no-op tasks into SQLite: tasks/s, exit, no lost row, UI page times"
    labels = {
        "monitoring_100k_tasks_per_s": ("100k: tasks, monitored", "{:,.0f} tasks/s"),
        "monitoring_100k_exit_s": ("100k: exit (rows written)", "{:.3f} s"),
        "monitoring_100k_rows_complete": ("100k: all rows recorded", "{}"),
        "monitoring_100k_page_ms": ("100k: workflow page HTML", "{:,.0f} ms"),
        "monitoring_100k_slowest_endpoint_ms": ("100k: slowest chart JSON", "{:,.0f} ms"),
        "monitoring_100k_total_ms": ("100k: page + all charts", "{:,.0f} ms"),
    }

    def __init__(self, n: int | None = None, fetches: int | None = None) -> None:
        self.n: int = _setting(n, "PLAIT_PERF_MONITORING_100K_N", 100_000)
        self.fetches: int = _setting(fetches, "PLAIT_PERF_MONITORING_100K_FETCHES", 5)

    def run(self, work_dir: str) -> dict[str, Any]:
        """One monitored workflow, then the UI over its database; all under ``work_dir``."""
        cls, why_not = _executor_class("threads")
        if cls is None:
            raise RuntimeError(f"no threads executor: {why_not}")
        db_path = os.path.join(work_dir, "monitoring.db")
        config = Config(
            executors=[cls()],
            run_dir=os.path.join(work_dir, "runinfo"),
            initialize_logging=True,
            monitoring=_hub(db_path),
        )
        with plait.load(config) as dfk:
            rate = bench_noop(self.n)["noop_tasks_per_s"]
            done = time.perf_counter()
        exit_s = time.perf_counter() - done
        rows = count_run_rows(db_path, dfk.run_id, self.n)
        pages = time_workflow_page(f"sqlite:///{db_path}", dfk.run_id, self.fetches)
        return {
            "monitoring_100k_n": self.n,
            "monitoring_100k_tasks_per_s": rate,
            "monitoring_100k_exit_s": exit_s,
            **{f"monitoring_100k_{key}": value for key, value in rows.items()},
            **{f"monitoring_100k_{key}": value for key, value in pages.items()},
        }
