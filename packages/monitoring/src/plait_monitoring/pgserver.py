"""A private PostgreSQL server in a temporary directory, for tests and benchmarks.

Built from Debian's ``postgresql`` package: ``initdb`` makes a cluster owned by
the unprivileged ``postgres`` user when we are root (initdb refuses root), and
``pg_ctl`` starts it on a private port of 127.0.0.1 with its socket in the same
directory, so several servers (one per pytest-xdist worker) run side by side.
Everything waits with a deadline (``pg_ctl -w -t``); :meth:`PostgresServer.stop`
stops the server by its data directory, never by a process name.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

#: what to install where the server programs are missing (Debian)
APT_PACKAGES = "postgresql"
USER = "plait"  # the superuser initdb creates; trust authentication on 127.0.0.1 only


class PostgresError(RuntimeError):
    """The server could not be set up, started or stopped; the message has its log."""


def server_bin_dir() -> Path | None:
    """The directory with ``initdb`` and ``pg_ctl``, or None if PostgreSQL is not installed."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    for directory in reversed(candidates):
        if os.access(os.path.join(directory, "initdb"), os.X_OK):
            return Path(directory)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def missing_requirements() -> str | None:
    """Why a server cannot be started here, with what to install; None if it can."""
    if server_bin_dir() is None:
        return f"PostgreSQL is not installed (apt-get install {APT_PACKAGES})"
    if os.geteuid() == 0 and not _user_exists("postgres"):
        return "running as root, but there is no unprivileged 'postgres' user to run the server"
    return None


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PostgresServer:
    """One private server: :meth:`start`, :meth:`url`, :meth:`stop`, :meth:`remove`.

    :param timeout: seconds ``pg_ctl`` may wait for the server to start or stop.
    """

    def __init__(self, timeout: float = 60.0) -> None:
        bin_dir = server_bin_dir()
        if bin_dir is None:
            raise PostgresError(missing_requirements() or "PostgreSQL is not installed")
        self.bin_dir = bin_dir
        self.timeout = timeout
        # short, because the socket path (DIR/.s.PGSQL.PORT) must stay under 108 bytes
        self.dir = Path(tempfile.mkdtemp(prefix="plait-pg-", dir="/tmp"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            self.dir.chmod(0o755)
            shutil.chown(self.dir, user="postgres", group="postgres")

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bin_dir / program), *args]
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=self.timeout + 30, cwd=self.dir
        )

    def _check(self, what: str, result: subprocess.CompletedProcess[str]) -> None:
        if result.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise PostgresError(
                f"{what} failed ({result.returncode}): {result.stderr.strip()}\n{log}"
            )

    def init(self) -> None:
        """Create the cluster (superuser :data:`USER`, trust authentication)."""
        self._check(
            "initdb",
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "-E", "UTF8"),
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._pg_ctl("start", "-o", options, "-l", str(self.log))

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back open transactions; ``immediate``: abort)."""
        self._pg_ctl("stop", "-m", mode)

    def _pg_ctl(self, action: str, *options: str) -> None:
        wait = ("-w", "-t", str(int(self.timeout)))
        result = self._run("pg_ctl", "-D", str(self.data), *options, *wait, action)
        self._check(f"pg_ctl {action}", result)

    def running(self) -> bool:
        """Whether the server is up (``pg_ctl status``)."""
        return self._run("pg_ctl", "-D", str(self.data), "status").returncode == 0

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create database ``name``; returns its URL."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=USER, dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        """Stop the server if it runs and delete its directory."""
        try:
            if self.data.exists() and self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
