"""pytest fixtures for tests that need a real PostgreSQL server (requires pytest).

Other packages' tests use them by importing them into their ``conftest.py``::

    from plait_monitoring.testing import postgres_server, postgres_url  # noqa: F401

``postgres_server`` (session scope, so once per pytest-xdist worker) starts a
private :class:`~plait_monitoring.pgserver.PostgresServer` and removes it at the
end of the session. ``postgres_url`` (function scope) creates a database of the
test's own on it and checks the server is up first (a test that stopped it must
start it again). The fixture skips, saying what to install, only where the
Debian packages are missing; set ``PLAIT_REQUIRE_POSTGRES=1`` (CI should) to fail
instead.
"""

from __future__ import annotations

import atexit
import os
import uuid
from collections.abc import Iterator

import pytest

from plait_monitoring.pgserver import PostgresError, PostgresServer, missing_requirements

__all__ = ["PostgresServer", "postgres_server", "postgres_url"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL server, running for the whole session."""
    reason = missing_requirements()
    if reason:
        if os.environ.get("PLAIT_REQUIRE_POSTGRES"):
            pytest.fail(f"PLAIT_REQUIRE_POSTGRES is set but {reason}")
        pytest.skip(reason)
    server = PostgresServer()
    atexit.register(server.remove)  # should the session be torn down without finalizers
    try:
        server.init()
        server.start()
    except PostgresError as exc:
        server.remove()
        pytest.fail(f"the private PostgreSQL server did not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.remove()
        atexit.unregister(server.remove)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh database of this test's own on the session's server."""
    if not postgres_server.running():
        pytest.fail(f"the session's PostgreSQL server is down; see {postgres_server.log}")
    return postgres_server.create_database(f"t_{uuid.uuid4().hex[:12]}")
