"""The blocks, nodes and per-worker resource samples of a real HTEX run, as the hub
recorded them, on the workflow and task pages in Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select
from web_helpers import (
    KnownRun,
    browser,
    count_rows,
    marks,
    open_page,
    record_known_run,
    require_chromium,
    screenshot,
)

from plait.executors import HighThroughputExecutor
from plait.providers import LocalProvider
from plait_monitoring.db import schema
from plait_monitoring.db.engine import make_engine, parse_url
from plait_monitoring.web import MonitoringWebServer

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

pytestmark = pytest.mark.timeout(120)

TESTS_DIR = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> KnownRun:
    root = tmp_path_factory.mktemp("htex")
    with pytest.MonkeyPatch.context() as patch:
        # the workers import the workflow's apps from web_helpers, beside this file
        paths = [str(TESTS_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
        patch.setenv("PYTHONPATH", os.pathsep.join(paths))
        executor = HighThroughputExecutor(max_workers_per_node=2, provider=LocalProvider())
        return record_known_run(f"sqlite:///{root}/monitoring.db", root / "runinfo", executor)


@pytest.fixture(scope="module")
def base(run: KnownRun) -> Iterator[str]:
    with MonitoringWebServer(run.url) as server:
        server.start()
        yield f"http://127.0.0.1:{server.port}"


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    require_chromium()
    with browser(tmp_path_factory.mktemp("profile")) as ctx:
        yield ctx


def latest_block_states(run: KnownRun) -> dict[str, str]:
    """Each block's last recorded state, from the database."""
    b = schema.block
    engine = make_engine(parse_url(run.url), writer=False)
    try:
        with engine.connect() as c:
            rows = c.execute(
                select(b.c.block_id, b.c.status)
                .where(b.c.run_id == run.run_id)
                .order_by(b.c.timestamp)
            ).all()
    finally:
        engine.dispose()
    return {block: state for block, state in rows}


def test_blocks_and_nodes_of_a_real_htex_run(
    context: BrowserContext, base: str, run: KnownRun, tmp_path: Path
) -> None:
    states = latest_block_states(run)
    nodes = count_rows(run.url, "node", run.run_id)
    assert states and nodes, "the hub recorded no block or node of the HTEX run"
    page, problems = open_page(context, f"{base}/workflow/{run.run_id}")
    rows = page.locator("#blocks-body tbody tr")
    assert rows.count() == len(states)
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        assert cells.nth(0).inner_text() == "htex"
        assert cells.nth(3).inner_text() == states[cells.nth(1).inner_text()]
    assert page.locator("#nodes-body tbody tr").count() == nodes
    assert marks(page, "#gantt-chart .barlayer .point") == run.tries
    screenshot(page, tmp_path, "workflow-htex")
    problems.assert_none()
    page.close()


def test_task_page_of_an_htex_try(
    context: BrowserContext, base: str, run: KnownRun, tmp_path: Path
) -> None:
    task_id = run.chain[0]
    samples = count_rows(run.url, "resource", run.run_id, task_id=task_id)
    assert samples > 0
    page, problems = open_page(context, f"{base}/workflow/{run.run_id}/task/{task_id}")
    assert marks(page, "#resource-chart .scatterlayer .point") == 6 * samples
    tries = page.locator("#tries-body tbody tr")
    assert tries.count() == 1 and "htex" in tries.first.inner_text()
    screenshot(page, tmp_path, "task-htex")
    problems.assert_none()
    page.close()
