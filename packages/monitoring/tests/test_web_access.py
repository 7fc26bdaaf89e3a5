"""Who may read the UI: loopback binds answer this machine's requests only, any other
bind requires the token printed at start; and ``serve()`` prints that URL and stops
on Ctrl-C."""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from web_helpers import browser, open_page, require_chromium

import plait
from plait import Config, ThreadPoolExecutor, python_app
from plait_monitoring import MonitoringHub
from plait_monitoring.web import MonitoringWebServer

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

pytestmark = pytest.mark.timeout(90)


@python_app
def one() -> int:
    return 1


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("access")
    url = f"sqlite:///{root}/monitoring.db"
    hub = MonitoringHub(db_url=url, workflow_name="access")
    config = Config(
        executors=[ThreadPoolExecutor(max_threads=1)], run_dir=str(root), monitoring=hub
    )
    with plait.load(config):
        assert one().result(timeout=30) == 1
    return url


def get(port: int, target: str, **headers: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", target, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_loopback_needs_no_token_but_refuses_foreign_host_names(db_url: str) -> None:
    with MonitoringWebServer(db_url) as server:
        server.start()
        assert server.token is None
        assert server.url == f"http://127.0.0.1:{server.port}/"
        assert get(server.port, "/").status == 200
        assert get(server.port, "/", Host=f"localhost:{server.port}").status == 200
        # a page elsewhere whose name resolves to 127.0.0.1 (DNS rebinding) is refused
        assert get(server.port, "/", Host=f"attacker.example:{server.port}").status == 403


def test_a_non_loopback_bind_requires_the_token(db_url: str) -> None:
    with MonitoringWebServer(db_url, host="0.0.0.0") as server:
        server.start()
        token = server.token
        assert token and len(token) >= 32
        assert server.url.endswith(f":{server.port}/?token={token}")
        for target in ("/", "/api/version", "/workflow/x/task/1", "/?token=wrong"):
            assert get(server.port, target).status == 401, target
        assert get(server.port, "/static/plait-web.css").status == 200  # the package's own
        entry = get(server.port, f"/?page=1&token={token}")
        assert entry.status == 303
        assert entry.getheader("Location") == "/?page=1"  # the token leaves the address bar
        cookie = entry.getheader("Set-Cookie") or ""
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        name_value = cookie.split(";")[0]
        assert get(server.port, "/", Cookie=name_value).status == 200
        assert get(server.port, "/", Cookie=name_value + "x").status == 401
        # any Host header is fine here: the token is what counts
        assert get(server.port, "/", Cookie=name_value, Host="monitor.example").status == 200


def test_a_token_can_be_required_on_loopback_too(db_url: str) -> None:
    with MonitoringWebServer(db_url, token="s3cret-token") as server:
        server.start()
        assert get(server.port, "/").status == 401
        assert get(server.port, "/?token=s3cret-token").status == 303


@pytest.fixture
def context(tmp_path: Path) -> Iterator[BrowserContext]:
    require_chromium()
    with browser(tmp_path / "profile") as ctx:
        yield ctx


def test_a_browser_enters_with_the_printed_url_and_is_refused_without(
    context: BrowserContext, db_url: str
) -> None:
    with MonitoringWebServer(db_url, host="0.0.0.0") as server:
        server.start()
        printed = urlsplit(server.url)
        entry = f"http://127.0.0.1:{server.port}/?{printed.query}"
        page, problems = open_page(context, entry)
        assert page.url == f"http://127.0.0.1:{server.port}/"
        page.locator("table.runs a").first.click()
        page.wait_for_url("**/workflow/*")
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('[data-chart]'))"
            ".every(div => Number(div.dataset.drawn) > 0)"
        )
        problems.assert_none()
        context.clear_cookies()
        response = page.goto(f"http://127.0.0.1:{server.port}/")
        assert response is not None and response.status == 401
        assert "needs its token" in page.inner_text("main")
        assert page.locator("script").count() == 0
        page.close()


def test_serve_prints_its_url_and_stops_on_ctrl_c(db_url: str) -> None:
    """``plait monitoring serve --db URL``, as a user runs it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "plait", "monitoring", "serve", "--db", db_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until serve() prints, bounded by the timeout
        url = first.split(" at ")[-1].strip()
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1" and parts.port, first
        assert get(parts.port, "/").status == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
