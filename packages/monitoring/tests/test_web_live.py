"""Pages kept open in Chromium pick up what the hub writes while a workflow runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from web_helpers import (
    PAGE_TIMEOUT_MS,
    PageProblems,
    browser,
    marks,
    open_page,
    require_chromium,
    wait_charts,
)

import plait
from plait import Config, ThreadPoolExecutor, python_app
from plait_monitoring import MonitoringHub
from plait_monitoring.web import MonitoringWebServer

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = pytest.mark.timeout(120)


@python_app
def wait_for(gate: threading.Event) -> bool:
    return gate.wait(60)


@python_app
def after(ok: bool) -> bool:
    return ok


@pytest.fixture
def context(tmp_path: Path) -> Iterator[BrowserContext]:
    require_chromium()
    with browser(tmp_path / "profile") as ctx:
        yield ctx


def run(db_url: str, runs_root: Path) -> Config:
    hub = MonitoringHub(db_url=db_url, workflow_name="live")
    return Config(
        executors=[ThreadPoolExecutor(max_threads=2)], run_dir=str(runs_root), monitoring=hub
    )


def wait_cell(page: Page, app: str, column: str, expected: str) -> None:
    """Wait until the totals table reads ``expected`` for ``app`` (or ``all``) in ``column``."""
    page.wait_for_function(
        """([app, column, expected]) => {
            const table = document.querySelector('#totals-body table');
            if (!table) return false;
            const heads = Array.from(table.querySelectorAll('thead th'), th => th.innerText);
            const index = heads.indexOf(column);
            return index >= 0 && Array.from(table.querySelectorAll('tbody tr')).some(
                row => row.cells[0].innerText === app && row.cells[index].innerText === expected);
        }""",
        arg=[app, column, expected],
        timeout=PAGE_TIMEOUT_MS,
    )


def wait_bars(page: Page, n: int) -> None:
    """Wait until the Gantt chart draws ``n`` bars."""
    page.wait_for_function(
        "n => document.querySelectorAll('#gantt-chart .barlayer .point').length === n",
        arg=n,
        timeout=PAGE_TIMEOUT_MS,
    )


def test_open_pages_follow_a_running_workflow(context: BrowserContext, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/monitoring.db"
    with plait.load(run(db_url, tmp_path / "first")):
        assert after(True).result(timeout=30)
    with MonitoringWebServer(db_url) as server:
        server.start()
        base = f"http://127.0.0.1:{server.port}"
        listing, listing_problems = open_page(context, base + "/")
        assert marks(listing, "table.runs tbody tr") == 1

        gate = threading.Event()
        try:
            with plait.load(run(db_url, tmp_path / "second")) as dfk:
                blocked = wait_for(gate)
                follower = after(blocked)
                # the list shows the new run, running, without a reload
                listing.locator("table.runs tbody tr").nth(1).wait_for()
                assert "running" in listing.locator("table.runs tbody tr").first.inner_text()

                page = context.new_page()
                problems = PageProblems(page)
                page.goto(f"{base}/workflow/{dfk.run_id}")
                wait_charts(page)
                wait_cell(page, "wait_for", "running", "1")
                wait_cell(page, "after", "pending", "1")
                wait_bars(page, 1)

                gate.set()
                assert follower.result(timeout=30)
                wait_cell(page, "all", "exec_done", "2")
                wait_bars(page, 2)
                assert page.evaluate("document.body.dataset.live") == "1"
        finally:
            gate.set()
        # the run ended: the page says so, and stops polling
        page.wait_for_function("() => document.body.dataset.live === '0'", timeout=PAGE_TIMEOUT_MS)
        assert "ended after" in page.locator("#workflow-info").inner_text()
        listing.wait_for_function(
            "() => !document.querySelector('table.runs tbody').innerText.includes('running')",
            timeout=PAGE_TIMEOUT_MS,
        )
        problems.assert_none()
        listing_problems.assert_none()
        page.close()
        listing.close()
