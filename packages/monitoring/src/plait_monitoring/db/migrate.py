"""Creating, checking and upgrading the schema with the Alembic revisions shipped here.

A hub creates the schema in an empty database and accepts one at the current
revision; anything else is refused with a :class:`SchemaError` that says what to
do, because migrating a shared database must be the user's decision
(``plait monitoring upgrade --db URL``). Both paths run in one transaction that
holds the database's write lock (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL
advisory lock), so workflows starting at once on a new database create it once.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, Connection, Engine

from plait_monitoring.db.engine import shown
from plait_monitoring.db.schema import PARSL_TABLES
from plait_monitoring.errors import SchemaError

#: plait's own version table, so a database shared with other Alembic users is safe.
VERSION_TABLE = "plait_monitoring_version"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_KEY = 0x706C6169  # "plai": serializes schema changes between processes


def _alembic_config(connection: Connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The revision this plait-monitoring writes."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None, "plait-monitoring ships at least one revision"
    return head


def _known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def current_revision(connection: Connection) -> str | None:
    """The database's revision; None if it has no plait version table (or an empty one)."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    heads = context.get_current_heads()
    return heads[0] if heads else None


def ensure_schema(engine: Engine, url: URL) -> None:
    """Create the schema in an empty database, or check it is at :func:`head_revision`.

    :raises SchemaError: the database has another schema; the message says how to
        migrate it (or why it cannot be).
    """
    with engine.begin() as connection:
        _lock(connection)
        if current_revision(connection) is None and not _monitoring_tables(connection):
            command.upgrade(_alembic_config(connection), "head")
        else:
            check_schema(connection, url)


def check_schema(connection: Connection, url: URL) -> None:
    """Check the database is at :func:`head_revision`, changing nothing (for readers).

    :raises SchemaError: it is not; the message says how to migrate it, or why it
        cannot be.
    """
    head = head_revision()
    current = current_revision(connection)
    if current == head:
        return
    _refuse_foreign_or_newer(connection, current, url, head)
    if current is None:
        raise SchemaError(
            f"the database {shown(url)} holds no plait monitoring records (it has no "
            f"{VERSION_TABLE} table); is the URL right?"
        )
    raise SchemaError(
        f"the database {shown(url)} has monitoring schema revision {current}, older "
        f"than revision {head} that this plait-monitoring uses. Back it up, then "
        f"migrate it with `plait monitoring upgrade --db {shown(url)}`"
    )


def _monitoring_tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) & set(PARSL_TABLES)


def upgrade_schema(engine: Engine, url: URL) -> tuple[str | None, str]:
    """Migrate the database to :func:`head_revision`, creating the schema if it is empty.

    :returns: the revisions before and after.
    :raises SchemaError: plait-monitoring did not create the database, or a newer one did.
    """
    head = head_revision()
    with engine.begin() as connection:
        _lock(connection)
        before = current_revision(connection)
        _refuse_foreign_or_newer(connection, before, url, head)
        command.upgrade(_alembic_config(connection), "head")
    return before, head


def _refuse_foreign_or_newer(
    connection: Connection, current: str | None, url: URL, head: str
) -> None:
    """Raise for the databases no migration of ours can fix."""
    if current is None:
        present = _monitoring_tables(connection)
        if present:
            raise SchemaError(
                f"the database {shown(url)} has monitoring tables ({', '.join(sorted(present))}) "
                f"but no {VERSION_TABLE} table, so plait-monitoring did not create it (a Parsl "
                "monitoring database?) and cannot migrate it. Point the hub at a new database "
                "(MonitoringHub(db_url=...))"
            )
    elif current not in _known_revisions():
        raise SchemaError(
            f"the database {shown(url)} has monitoring schema revision {current}, which this "
            f"plait-monitoring does not know (it writes revision {head}): a newer "
            "plait-monitoring wrote it. Upgrade plait-monitoring, or point the hub at another "
            "database"
        )
