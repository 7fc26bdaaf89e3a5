"""Alembic's environment for plait-monitoring: always run from
:mod:`plait_monitoring.db.migrate`, on the connection (and transaction) it passes."""

from __future__ import annotations

from alembic import context

from plait_monitoring.db.migrate import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
