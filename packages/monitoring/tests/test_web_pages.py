"""The web UI's pages in a real headless Chromium, over a workflow recorded by the real hub:
every page loads without errors, charts draw one mark per try/task/dependency, links and
chart clicks lead to the right pages, and database text is shown, never run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import distinct, func, select
from web_helpers import (
    KNOWN_ERROR,
    KNOWN_NAME,
    KnownRun,
    browser,
    count_rows,
    line_segments,
    marks,
    open_page,
    record_known_run,
    require_chromium,
    screenshot,
    wait_charts,
)

from plait_monitoring.db import schema
from plait_monitoring.db.engine import make_engine, parse_url
from plait_monitoring.web import MonitoringWebServer

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> KnownRun:
    root = tmp_path_factory.mktemp("known")
    return record_known_run(f"sqlite:///{root}/monitoring.db", root / "runinfo")


@pytest.fixture(scope="module")
def base(known: KnownRun) -> Iterator[str]:
    with MonitoringWebServer(known.url) as server:
        server.start()
        yield f"http://127.0.0.1:{server.port}"


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    require_chromium()
    with browser(tmp_path_factory.mktemp("profile")) as ctx:
        yield ctx


def workflow_url(base: str, known: KnownRun) -> str:
    return f"{base}/workflow/{known.run_id}"


def click_mark(page: Page, chart: str, task_id: int) -> None:
    """Click the mark of chart ``#chart`` that stands for task ``task_id``."""
    trace, point, kind = page.evaluate(
        """([chart, suffix]) => {
            const data = document.getElementById(chart).data;
            for (let t = 0; t < data.length; t++) {
                const i = (data[t].customdata || []).findIndex(u => u.endsWith(suffix));
                if (i >= 0) return [t, i, data[t].type];
            }
            return null;
        }""",
        [chart, f"/task/{task_id}"],
    )
    layer = ".barlayer" if kind == "bar" else ".scatterlayer"
    mark = page.locator(f"#{chart} {layer} .trace").nth(trace).locator(".point").nth(point)
    mark.scroll_into_view_if_needed()
    box = mark.bounding_box()
    assert box is not None, f"no mark for task {task_id} in #{chart}"
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    # plotly reports a click on what it hovers: hover first, as a user's pointer does
    page.mouse.move(x, y)
    page.locator(f"#{chart} .hoverlayer .hovertext").wait_for()
    with page.expect_navigation():
        page.mouse.click(x, y)


def test_workflows_list_links_to_the_workflow(
    context: BrowserContext, base: str, known: KnownRun, tmp_path: Path
) -> None:
    page, problems = open_page(context, base + "/")
    rows = page.locator("table.runs tbody tr")
    assert rows.count() == 1
    link = rows.first.locator("td").first.locator("a")
    assert link.inner_text() == KNOWN_NAME  # markup in the name is text
    assert "ended after" in rows.first.inner_text()
    screenshot(page, tmp_path, "workflows")
    link.click()
    page.wait_for_url(f"**/workflow/{known.run_id}")
    wait_charts(page)
    assert page.locator("h1 i").count() == 0
    problems.assert_none()
    page.close()


def test_workflow_page_draws_a_mark_per_try_task_and_dependency(
    context: BrowserContext, base: str, known: KnownRun, tmp_path: Path
) -> None:
    page, problems = open_page(context, workflow_url(base, known))
    assert marks(page, "#gantt-chart .barlayer .point") == known.tries
    assert marks(page, "#dag-chart .scatterlayer .point") == known.tasks
    assert line_segments(page, "dag-chart", trace_index=0) == known.edges
    # one stacked area per state the run's tasks went through
    engine = make_engine(parse_url(known.url), writer=False)
    try:
        with engine.connect() as c:
            s = schema.status
            states = c.execute(
                select(func.count(distinct(s.c.task_status_name))).where(s.c.run_id == known.run_id)
            ).scalar_one()
    finally:
        engine.dispose()
    assert marks(page, "#timeline-chart .scatterlayer .trace") == states
    totals = page.locator("#totals-body tbody tr").last.locator("td")
    assert totals.last.inner_text() == str(known.tasks)
    screenshot(page, tmp_path, "workflow")
    problems.assert_none()
    page.close()


def test_failures_show_root_causes_as_text(
    context: BrowserContext, base: str, known: KnownRun
) -> None:
    page, problems = open_page(context, workflow_url(base, known))
    causes = page.locator("#failures-body table.causes tbody tr")
    assert causes.count() == 1
    cause = causes.first.locator("td")
    assert KNOWN_ERROR in cause.nth(0).inner_text()
    assert cause.nth(2).inner_text() == "1"  # tasks failed so
    assert cause.nth(3).inner_text() == str(len(known.dep_fails))
    failed = page.locator("#failures-body table.failed tbody tr")
    assert failed.count() == 1 + len(known.dep_fails)
    for row in range(1, failed.count()):  # each dep_fail names the root task
        assert failed.nth(row).locator("td").last.inner_text() == str(known.root)
    assert page.locator("#failures-body img").count() == 0
    assert page.evaluate("window.__xss") is None
    problems.assert_none()
    page.close()


def test_a_run_without_blocks_says_so(context: BrowserContext, base: str, known: KnownRun) -> None:
    page, problems = open_page(context, workflow_url(base, known))
    assert "No block recorded" in page.locator("#blocks-body").inner_text()
    assert "No node recorded" in page.locator("#nodes-body").inner_text()
    problems.assert_none()
    page.close()


def test_dag_colours_by_app_on_request(
    context: BrowserContext, base: str, known: KnownRun, tmp_path: Path
) -> None:
    page, problems = open_page(context, workflow_url(base, known))
    legend = "#dag-chart .legend .traces"
    assert marks(page, legend) == 3  # states: exec_done, failed, dep_fail
    page.get_by_role("button", name="app").click()
    page.wait_for_function("() => document.getElementById('dag-chart').dataset.drawn === '2'")
    assert marks(page, legend) == len(known.apps)
    assert marks(page, "#dag-chart .scatterlayer .point") == known.tasks
    screenshot(page, tmp_path, "workflow-dag-by-app", "#dag")
    problems.assert_none()
    page.close()


def test_clicking_a_bar_or_a_node_opens_its_task(
    context: BrowserContext, base: str, known: KnownRun
) -> None:
    page, problems = open_page(context, workflow_url(base, known))
    click_mark(page, "gantt-chart", known.chain[0])
    assert page.url.endswith(f"/task/{known.chain[0]}")
    wait_charts(page)  # leaving before its chart came would abort that request
    page.go_back()
    wait_charts(page)
    click_mark(page, "dag-chart", known.dep_fails[-1])
    assert page.url.endswith(f"/task/{known.dep_fails[-1]}")
    wait_charts(page)
    problems.assert_none()
    page.close()


def test_task_pages_show_tries_errors_and_resources(
    context: BrowserContext, base: str, known: KnownRun, tmp_path: Path
) -> None:
    run = workflow_url(base, known)
    page, problems = open_page(context, f"{run}/task/{known.root}")
    assert page.locator("#tries-body tbody tr").count() == 2
    assert KNOWN_ERROR in page.locator("#error pre").inner_text()
    # three panels of two lines (one per try in each), a point per sample
    samples = count_rows(known.url, "resource", known.run_id, task_id=known.root)
    assert samples > 0
    assert marks(page, "#resource-chart .scatterlayer .point") == 6 * samples
    screenshot(page, tmp_path, "task-failed")
    problems.assert_none()
    page.close()

    page, problems = open_page(context, f"{run}/task/{known.chain[0]}")
    samples = count_rows(known.url, "resource", known.run_id, task_id=known.chain[0])
    assert samples > 0
    assert marks(page, "#resource-chart .scatterlayer .point") == 6 * samples
    info = page.locator("#task-info").inner_text()
    assert "needed by" in info and str(known.chain[1]) in info
    screenshot(page, tmp_path, "task-done")
    problems.assert_none()
    page.close()

    page, problems = open_page(context, f"{run}/task/{known.bash}")
    info = page.locator("#task-info").inner_text()
    assert "greet.out" in info and "greet.err" in info
    problems.assert_none()
    page.close()


def test_dep_fail_task_links_to_its_root_cause(
    context: BrowserContext, base: str, known: KnownRun, tmp_path: Path
) -> None:
    page, problems = open_page(context, f"{workflow_url(base, known)}/task/{known.dep_fails[-1]}")
    roots = page.locator("#roots tbody tr")
    assert roots.count() == 1
    assert KNOWN_ERROR in roots.first.inner_text()
    screenshot(page, tmp_path, "task-dep-fail")
    roots.first.locator("a").click()
    page.wait_for_url(f"**/task/{known.root}")
    wait_charts(page)
    problems.assert_none()
    page.close()


def test_tasks_list_filters_by_app_and_state(
    context: BrowserContext, base: str, known: KnownRun, tmp_path: Path
) -> None:
    page, problems = open_page(context, f"{workflow_url(base, known)}/tasks?state=dep_fail")
    assert page.locator("#tasks-body tbody tr").count() == len(known.dep_fails)
    page.select_option("select[name=state]", "")
    page.select_option("select[name=app]", "double")
    with page.expect_navigation():
        page.get_by_role("button", name="show").click()
    assert page.locator("#tasks-body tbody tr").count() == len(known.chain)
    screenshot(page, tmp_path, "tasks")
    page.get_by_role("link", name=str(known.chain[1]), exact=True).click()
    page.wait_for_url(f"**/task/{known.chain[1]}")
    problems.assert_none()
    page.close()


def test_unknown_pages_say_what_is_missing(
    context: BrowserContext, base: str, known: KnownRun
) -> None:
    page = context.new_page()
    response = page.goto(f"{base}/workflow/no-such-run")
    assert response is not None and response.status == 404
    assert "no run no-such-run" in page.inner_text("main")
    response = page.goto(f"{workflow_url(base, known)}/task/999")
    assert response is not None and response.status == 404
    assert "has no task 999" in page.inner_text("main")
    page.close()
