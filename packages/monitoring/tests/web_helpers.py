"""Building blocks of the web UI's tests: a real headless Chromium, a known workflow
recorded by the real hub, a large synthetic run, and page checks.

Chromium is Debian's (``apt-get install chromium``), driven by Playwright without
``playwright install``; the launch flags are those of
``shared/reference/engines.md``. Each browser gets its own profile directory, each
server its own port, so tests run side by side under pytest-xdist.
"""

from __future__ import annotations

import datetime
import os
import random
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, insert, select

import plait
from plait import Config, ThreadPoolExecutor, bash_app, python_app
from plait_monitoring import MonitoringHub
from plait_monitoring.db import schema
from plait_monitoring.db.engine import make_engine, parse_url
from plait_monitoring.db.migrate import ensure_schema

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
#: how long a page may take to load and draw, or to pick up a change (ms)
PAGE_TIMEOUT_MS = 20_000

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, Response


# -- the browser -----------------------------------------------------------------


def require_chromium() -> None:
    """Skip (or fail, with ``PLAIT_REQUIRE_CHROMIUM=1``, as CI sets) without Chromium."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (apt-get install chromium chromium-driver)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("the playwright package")
    if missing:
        reason = "the web UI tests need " + " and ".join(missing)
        if os.environ.get("PLAIT_REQUIRE_CHROMIUM"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


@contextmanager
def browser(profile_dir: Path) -> Iterator[BrowserContext]:
    """A headless Chromium with its own profile in ``profile_dir``; closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=CHROMIUM,
            headless=True,
            args=LAUNCH_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


class PageProblems:
    """Everything that went wrong on a page: console errors, uncaught exceptions,
    failed requests and error responses."""

    def __init__(self, page: Page) -> None:
        self.found: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.found.append(f"uncaught: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.found.append(f"console error: {message.text}")

    def _failed(self, request: Request) -> None:
        self.found.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.found.append(f"{response.status} from {response.url}")

    def assert_none(self) -> None:
        assert not self.found, "\n".join(self.found)


def open_page(context: BrowserContext, url: str) -> tuple[Page, PageProblems]:
    """A new tab at ``url``, loaded and with every chart drawn."""
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(url)
    wait_charts(page)
    return page, problems


def wait_charts(page: Page) -> None:
    """Wait until every chart of the page has been drawn (or found empty) at least once."""
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('[data-chart]'))"
        ".every(div => Number(div.dataset.drawn) > 0)"
    )


def marks(page: Page, selector: str) -> int:
    """How many elements match ``selector`` on ``page`` (e.g. a chart's bars)."""
    return page.locator(selector).count()


def line_segments(page: Page, chart: str, trace_index: int = 0) -> int:
    """Separate line segments drawn by scatter trace ``trace_index`` of chart ``#chart``
    (plotly draws each run of points between gaps as one ``M...L...`` subpath)."""
    paths: list[str] = page.eval_on_selector_all(
        f"#{chart} .scatterlayer .trace:nth-of-type({trace_index + 1}) path.js-line",
        "elements => elements.map(e => e.getAttribute('d') || '')",
    )
    return sum(path.count("M") for path in paths)


def screenshot(page: Page, tmp_path: Path, name: str, selector: str | None = None) -> Path:
    """Save a screenshot of the whole page (or of ``selector``) in ``tmp_path`` and copy it
    to ``tests/artifacts/`` (git-ignored) for people to look at."""
    path = tmp_path / f"{name}.png"
    if selector is None:
        page.screenshot(path=str(path), full_page=True)
    else:
        page.locator(selector).screenshot(path=str(path))
    ARTIFACTS.mkdir(exist_ok=True)
    ignore = ARTIFACTS / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    shutil.copyfile(path, ARTIFACTS / path.name)
    return path


# -- a known workflow, recorded by the real hub -----------------------------------------

#: the workflow's name: markup in it must show as text
KNOWN_NAME = "known <i>workflow</i>"
#: the failing task's message: markup in it must show as text, never run
KNOWN_ERROR = "boom <img src=x onerror=window.__xss=1>"
#: seconds between resource samples: several per task
SAMPLE_INTERVAL = 0.05


@python_app
def double(x: int) -> int:
    time.sleep(0.2)  # long enough to be seen as a bar, and sampled
    return 2 * x


@python_app
def fail(message: str) -> None:
    time.sleep(0.15)
    raise ValueError(message)


@python_app
def add(a: int, b: int) -> int:
    return a + b


@bash_app
def greet(stdout: str | None = None, stderr: str | None = None) -> str:
    return "echo hello; echo note >&2"


@dataclass(frozen=True)
class KnownRun:
    """A recorded run with known shape. Task ids: 0-2 a ``double`` chain, 3 fails (two
    tries), 4 ``add(2, 3)`` and 5 ``add(4, 1)`` fail on dependencies, 6 a bash app."""

    url: str
    run_id: str
    chain = (0, 1, 2)
    root = 3
    dep_fails = (4, 5)
    bash = 6
    tasks = 7
    tries = 6  # one each, but two for the root failure
    edges = 5  # 0-1, 1-2, 2-4, 3-4, 4-5
    apps = ("add", "double", "fail", "greet")


def known_config(db_url: str, runs_root: Path, executor: Any = None) -> Config:
    """The known workflow's config: threads unless ``executor``, one retry, resources sampled."""
    hub = MonitoringHub(
        db_url=db_url,
        workflow_name=KNOWN_NAME,
        workflow_version="1.0",
        resource_monitoring_interval=SAMPLE_INTERVAL,
    )
    return Config(
        executors=[executor or ThreadPoolExecutor(max_threads=4)],
        run_dir=str(runs_root),
        monitoring=hub,
        retries=1,
    )


def record_known_run(db_url: str, runs_root: Path, executor: Any = None) -> KnownRun:
    """Run the known workflow with a MonitoringHub writing to ``db_url``.

    The hub does not record a bash app's stdout/stderr paths yet, so they are written
    into the task row afterwards, through the schema.
    """
    with plait.load(known_config(db_url, runs_root, executor)) as dfk:
        run_id = dfk.run_id
        a = double(1)
        b = double(a)
        c = double(b)
        root = fail(KNOWN_ERROR)
        d = add(c, root)
        e = add(d, 1)
        g = greet(stdout=str(runs_root / "greet.out"), stderr=str(runs_root / "greet.err"))
        for future in (a, b, c, g):
            future.result(timeout=60)
        for future in (root, d, e):
            assert future.exception(timeout=60) is not None
    # the hub records where a bash app's output goes (the task page links it)
    t = schema.task
    engine = make_engine(parse_url(db_url), writer=False)
    try:
        with engine.connect() as connection:
            recorded = connection.execute(
                select(t.c.task_stdout, t.c.task_stderr).where(
                    t.c.run_id == run_id, t.c.task_id == KnownRun.bash
                )
            ).one()
    finally:
        engine.dispose()
    assert tuple(recorded) == (str(runs_root / "greet.out"), str(runs_root / "greet.err"))
    return KnownRun(db_url, run_id)


def count_rows(db_url: str, table: str, run_id: str, **where: Any) -> int:
    """Rows of run ``run_id`` in ``table`` (one of ``schema``'s), with columns = ``where``."""
    t = schema.metadata.tables[table]
    query = select(func.count()).select_from(t).where(t.c.run_id == run_id)
    for column, value in where.items():
        query = query.where(t.c[column] == value)
    engine = make_engine(parse_url(db_url), writer=False)
    try:
        with engine.connect() as connection:
            return int(connection.execute(query).scalar_one())
    finally:
        engine.dispose()


# -- a large synthetic run ---------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticRun:
    run_id: str
    tasks: int
    failed: int
    dep_fail: int


def insert_synthetic_run(db_url: str, tasks: int, seed: int = 1) -> SyntheticRun:
    """A finished run of ``tasks`` tasks written straight through the schema (fast enough
    for 100,000 tasks): layered dependencies, one try per task, about 1 in 500 tasks
    failed and their dependents ``dep_fail``; a status row per state change."""
    rng = random.Random(seed)
    url = parse_url(db_url)
    engine = make_engine(url, writer=True)
    run_id = f"synthetic-{seed}-{tasks}"
    start = datetime.datetime(2026, 1, 1, 12, 0, 0)
    task_rows, try_rows, status_rows = [], [], []
    state: dict[int, str] = {}
    failed = dep_fail = 0
    for task_id in range(tasks):
        depends = sorted({rng.randrange(task_id) for _ in range(2)}) if task_id >= 10 else []
        invoked = start + datetime.timedelta(milliseconds=task_id)
        if any(state[d] in ("failed", "dep_fail") for d in depends):
            final, dep_fail = "dep_fail", dep_fail + 1
        elif rng.random() < 0.002:
            final, failed = "failed", failed + 1
        else:
            final = "exec_done"
        state[task_id] = final
        launched = invoked + datetime.timedelta(milliseconds=rng.randrange(1, 2000))
        returned = launched + datetime.timedelta(milliseconds=rng.randrange(5, 5000))
        task_rows.append(
            {
                "task_id": task_id,
                "run_id": run_id,
                "task_depends": ",".join(map(str, depends)) or None,
                "task_func_name": f"app{task_id % 7}",
                "task_time_invoked": invoked,
                "task_time_returned": returned,
                "task_fail_count": 1 if final == "failed" else 0,
                "task_status_name": final,
                "task_error": {
                    "failed": "RuntimeError: synthetic",
                    "dep_fail": "DependencyError: synthetic",
                }.get(final),
            }
        )
        status_rows.append(_status(run_id, task_id, "pending", invoked))
        if final != "dep_fail":
            try_rows.append(
                {
                    "try_id": 0,
                    "task_id": task_id,
                    "run_id": run_id,
                    "task_executor": "htex",
                    "block_id": str(task_id % 8),
                    "hostname": f"node{task_id % 8}",
                    "task_try_time_launched": launched,
                    "task_try_time_returned": returned,
                }
            )
            status_rows.append(_status(run_id, task_id, "launched", launched))
        status_rows.append(_status(run_id, task_id, final, returned))
    end = max(row["task_time_returned"] for row in task_rows)
    try:
        ensure_schema(engine, url)
        with engine.begin() as c:
            c.execute(
                insert(schema.workflow),
                [
                    {
                        "run_id": run_id,
                        "workflow_name": "synthetic",
                        "workflow_version": str(tasks),
                        "time_began": start,
                        "time_completed": end,
                        "host": "synthetic-host",
                        "user": "tester",
                        "rundir": "/nowhere",
                        "tasks_failed_count": failed,
                        "tasks_completed_count": tasks - failed - dep_fail,
                    }
                ],
            )
            for table, rows in (
                (schema.task, task_rows),
                (schema.try_, try_rows),
                (schema.status, status_rows),
            ):
                for i in range(0, len(rows), 20_000):
                    c.execute(insert(table), rows[i : i + 20_000])
    finally:
        engine.dispose()
    return SyntheticRun(run_id, tasks, failed, dep_fail)


def _status(run_id: str, task_id: int, state: str, at: datetime.datetime) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "run_id": run_id,
        "task_status_name": state,
        "timestamp": at,
        "try_id": 0,
    }
