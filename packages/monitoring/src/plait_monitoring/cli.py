"""``plait monitoring``: read and maintain monitoring databases.

``summary`` prints one run; ``serve`` runs the web UI over a database;
``upgrade`` migrates a database to the schema this plait-monitoring writes;
``replay`` loads records a run left in its spill file because the database was
down when it ended.

This module is imported whenever the ``plait`` command starts, so it imports
SQLAlchemy only inside :meth:`MonitoringCommand.run`.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from plait.cli import Command

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

DEFAULT_RUNS_ROOT = "runinfo"


class MonitoringCommand(Command):
    """The ``plait monitoring`` subcommands."""

    plugin_name = "monitoring"
    help = "summarize, serve (web UI), upgrade or load monitoring databases"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        summary = sub.add_parser(
            "summary", help="tasks by app and state, slowest tries, failures with causes"
        )
        _db_option(summary)
        summary.add_argument("--run", help="a run id, or its first characters (default: latest)")
        summary.add_argument(
            "--limit", type=int, default=10, help="rows of slowest tries and failures (10)"
        )
        upgrade = sub.add_parser(
            "upgrade", help="migrate a database to this plait-monitoring's schema"
        )
        _db_option(upgrade)
        serve = sub.add_parser("serve", help="the web UI over a monitoring database")
        _db_option(serve)
        serve.add_argument("--port", type=int, default=0, help="port (default: a free one)")
        serve.add_argument(
            "--host",
            default="127.0.0.1",
            help="address to bind (default 127.0.0.1); any other needs the printed token",
        )
        replay = sub.add_parser(
            "replay", help="write the records a run left in its spill file into the database"
        )
        replay.add_argument("file", help="the run's monitoring-spill.jsonl")
        _db_option(replay)

    def run(self, args: argparse.Namespace) -> int:
        from sqlalchemy.exc import SQLAlchemyError

        from plait.errors import PlaitError
        from plait_monitoring.db.engine import resolve_url

        try:
            url = resolve_url(args.db, DEFAULT_RUNS_ROOT)
            if args.action == "summary":
                from plait_monitoring.summary import load_summary, render

                print(render(load_summary(url, args.run, args.limit)))
            elif args.action == "serve":
                from plait_monitoring.web import serve

                serve(url, host=args.host, port=args.port)
            elif args.action == "upgrade":
                _upgrade(url)
            else:
                _replay(args.file, url)
        except (PlaitError, SQLAlchemyError, OSError) as exc:
            print(f"plait monitoring {args.action}: {exc}", file=sys.stderr)
            return 1
        return 0


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help="the database: sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB "
        f"(default: sqlite {DEFAULT_RUNS_ROOT}/monitoring.db here)",
    )


def _upgrade(url: URL) -> None:
    from plait_monitoring.db.engine import make_engine, shown
    from plait_monitoring.db.migrate import upgrade_schema

    engine = make_engine(url, writer=True)
    try:
        before, after = upgrade_schema(engine, url)
    finally:
        engine.dispose()
    if before == after:
        print(f"{shown(url)} is at revision {after} already")
    else:
        print(f"{shown(url)}: revision {before or '(empty)'} -> {after}")


def _replay(path: str, url: URL) -> None:
    from plait_monitoring.buffer import SpillBuffer
    from plait_monitoring.db.engine import shown
    from plait_monitoring.db.store import Store
    from plait_monitoring.writer import BATCH

    if not os.path.exists(path):
        raise FileNotFoundError(f"no spill file at {path}")
    buffer = SpillBuffer(path, limit=BATCH)
    total = len(buffer)
    store = Store(url)
    try:
        while buffer:
            ops = buffer.peek(BATCH)
            store.write(ops)
            buffer.drop(len(ops))
    finally:
        store.dispose()
    print(f"wrote {total} records from {path} to {shown(url)}")
