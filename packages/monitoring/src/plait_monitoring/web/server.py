"""The HTTP server: the standard library's threading server and a small router.

A monitoring UI serves one user (or a few) reading one database, so it needs no
framework: one thread per connection, a table of URL patterns, and a few
headers that keep the pages self-contained (a Content-Security-Policy that only
allows this server's own scripts) and the access rule of :mod:`.auth`.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO
from urllib.parse import parse_qsl, unquote, urlsplit

from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from plait_monitoring.db.engine import make_engine, parse_url, shown
from plait_monitoring.db.migrate import check_schema
from plait_monitoring.errors import MonitoringError
from plait_monitoring.web.assets import Assets
from plait_monitoring.web.auth import TOKEN_PARAM, Access, Verdict
from plait_monitoring.web.layout import error_page
from plait_monitoring.web.views import NotFound, Request, Response, Views, html_response

logger = logging.getLogger("plait.monitoring.web")

SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)
#: seconds an idle keep-alive connection is kept
IDLE_TIMEOUT = 60

View = Callable[..., Response]


class App:
    """Requests to responses: access check, routing, views, static files, errors."""

    def __init__(self, views: Views, assets: Assets, access: Access) -> None:
        self.views = views
        self.assets = assets
        self.access = access
        self.routes: list[tuple[re.Pattern[str], View]] = [
            (re.compile(pattern), view)
            for pattern, view in (
                (r"/", views.workflows),
                (r"/workflow/(?P<run_id>[^/]+)", views.workflow),
                (r"/workflow/(?P<run_id>[^/]+)/tasks", views.tasks),
                (r"/workflow/(?P<run_id>[^/]+)/task/(?P<task_id>\d+)", views.task),
                (r"/api/version", views.version),
                (r"/api/workflow/(?P<run_id>[^/]+)/gantt", views.gantt),
                (r"/api/workflow/(?P<run_id>[^/]+)/timeline", views.timeline),
                (r"/api/workflow/(?P<run_id>[^/]+)/dag", views.dag),
                (
                    r"/api/workflow/(?P<run_id>[^/]+)/task/(?P<task_id>\d+)/resources",
                    views.resources,
                ),
                (r"/static/(?P<name>[A-Za-z0-9._-]+)", self.static),
            )
        ]

    def handle(self, target: str, headers: dict[str, str]) -> Response:
        """The response to ``GET target`` (path and query) with lower-cased ``headers``."""
        parts = urlsplit(target)
        request = Request(parts.path, dict(parse_qsl(parts.query)), headers)
        verdict = self.access.check(parts.path, request.query, headers)
        if verdict.status != 200:
            return self._refused(verdict)
        try:
            for pattern, view in self.routes:
                match = pattern.fullmatch(parts.path)
                if match:
                    args = {k: unquote(v) for k, v in match.groupdict().items()}
                    return view(request, **args)
            raise NotFound(f"there is no page at {parts.path}")
        except NotFound as exc:
            return html_response(error_page(404, str(exc), self.assets), 404)
        except SQLAlchemyError as exc:
            logger.warning("reading %s failed", target, exc_info=True)
            reason = exc.args[0] if exc.args else ""
            message = f"the database could not be read: {type(exc).__name__}: {reason}"
            return html_response(error_page(500, message, self.assets), 500)

    def _refused(self, verdict: Verdict) -> Response:
        headers: list[tuple[str, str]] = []
        if verdict.set_cookie:
            headers.append(("Set-Cookie", verdict.set_cookie))
        if verdict.location:
            headers.append(("Location", verdict.location))
            return Response(verdict.status, "text/plain; charset=utf-8", b"", tuple(headers))
        page = error_page(verdict.status, verdict.reason, self.assets)
        return Response(verdict.status, "text/html; charset=utf-8", page.encode(), tuple(headers))

    def static(self, request: Request, name: str) -> Response:
        asset = self.assets.get(name)
        if asset is None:
            raise NotFound(f"there is no file {name}")
        current = request.query.get("v") == asset.etag[1:9]
        headers = [
            ("ETag", asset.etag),
            ("Cache-Control", "public, max-age=31536000, immutable" if current else "no-cache"),
            ("Vary", "Accept-Encoding"),
        ]
        if request.headers.get("if-none-match") == asset.etag:
            return Response(304, asset.content_type, b"", tuple(headers))
        body = asset.body
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = self.assets.gzipped(asset)
            headers.append(("Content-Encoding", "gzip"))
        return Response(200, asset.content_type, body, tuple(headers))


class _Handler(BaseHTTPRequestHandler):
    """One connection: hands each GET to the server's :class:`App` and writes its answer."""

    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            response = self.server.app.handle(self.path, headers)
        except Exception:
            logger.exception("answering GET %s failed", self.path)
            page = error_page(500, "the server failed; see its log", self.server.app.assets)
            response = html_response(page, 500)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in (*SECURITY_HEADERS, *response.headers):
            self.send_header(name, value)
        if response.content_type.startswith("text/html"):
            self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if send_body:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    """A thread per connection (daemon threads: an idle keep-alive connection never
    holds up shutdown), over IPv4 or IPv6 as ``host`` needs."""

    daemon_threads = True

    def __init__(self, host: str, port: int, app_factory: Callable[[int], App]) -> None:
        self.address_family = _family(host)
        super().__init__((host, port), _Handler)
        self.app = app_factory(self.server_port)

    def handle_error(self, request: object, client_address: object) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            logger.debug("connection from %s dropped: %s", client_address, error)
        else:
            logger.exception("request from %s failed", client_address)


def _family(host: str) -> socket.AddressFamily:
    """The address family to bind ``host`` with (IPv6 for ``::1``, ``::`` and the like)."""
    try:
        return socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)[0][0]
    except OSError:
        return socket.AF_INET


class MonitoringWebServer:
    """The web UI over one monitoring database, bound to ``host``:``port``.

    :param db_url: ``sqlite:///PATH`` or ``postgresql+psycopg://USER@HOST:PORT/DB``.
    :param host: the address to listen on; 127.0.0.1 keeps the UI on this machine.
    :param port: 0 picks a free port (see :attr:`port`).
    :param token: the token every client must present; default none on a loopback
        address and a new random one on any other (see :mod:`.auth`).
    :raises MonitoringError: no such SQLite file, or plotly is not installed.
    :raises SchemaError: the database was not written by this plait-monitoring.
    :raises OSError: the address cannot be bound.
    """

    def __init__(
        self,
        db_url: str | URL,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        token: str | None = None,
    ) -> None:
        url = parse_url(db_url) if isinstance(db_url, str) else db_url
        if url.get_backend_name() == "sqlite" and not (
            url.database and os.path.exists(url.database)
        ):
            raise MonitoringError(
                f"there is no monitoring database at {url.database}; give its URL with --db "
                "(a run writes <Config.run_dir>/monitoring.db by default)"
            )
        self.db = url
        self.host = host
        engine = make_engine(url, writer=False)
        try:
            with engine.connect() as connection:
                check_schema(connection, url)
            assets = Assets()
            views = Views(engine, assets)

            def app(port: int) -> App:
                return App(views, assets, Access.for_bind(host, port, token))

            self._server = _Server(host, port, app)
        except BaseException:
            engine.dispose()
            raise
        self._engine = engine
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def token(self) -> str | None:
        return self._server.app.access.token

    @property
    def url(self) -> str:
        """The URL to open: with the token, if the server needs one."""
        host = self.host
        if host in ("", "0.0.0.0", "::"):
            host = socket.gethostname()
        elif ":" in host:
            host = f"[{host}]"
        query = f"?{TOKEN_PARAM}={self.token}" if self.token else ""
        return f"http://{host}:{self.port}/{query}"

    def serve_forever(self) -> None:
        """Answer requests until :meth:`close` (from another thread) or KeyboardInterrupt."""
        self._server.serve_forever()

    def start(self) -> None:
        """Answer requests in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="plait-monitoring-web", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop answering, close the socket and the database connections."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        self._engine.dispose()

    def __enter__(self) -> MonitoringWebServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(
    db_url: str | URL,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    token: str | None = None,
    out: TextIO | None = None,
) -> None:
    """Serve the web UI over ``db_url`` until interrupted (Ctrl-C); print its URL first.

    The arguments are those of :class:`MonitoringWebServer`; ``out`` is where the
    URL is printed (standard output by default).
    """
    out = out or sys.stdout
    with MonitoringWebServer(db_url, host, port, token=token) as server:
        print(f"plait monitoring: {shown(server.db)} at {server.url}", file=out, flush=True)
        if server.token:
            print(
                f"  bound to {host}: every client needs the token in this URL "
                "(it is kept in a cookie after the first visit)",
                file=out,
                flush=True,
            )
        print("  Ctrl-C stops", file=out, flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
