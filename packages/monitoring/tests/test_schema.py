"""The schema: Parsl's names, made by the shipped Alembic revision, and refused with a way
forward when a database has another one."""

from __future__ import annotations

import shutil
import sqlite3
import textwrap
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from monitoring_helpers import double, query, sqlite_url, threads_config

import plait
from plait.cli import main as plait_main
from plait_monitoring import MonitoringHub, SchemaError
from plait_monitoring.db import migrate, schema
from plait_monitoring.db.engine import make_engine, parse_url
from plait_monitoring.db.store import Store

pytestmark = pytest.mark.timeout(60)

#: Parsl's monitoring tables and columns (parsl/monitoring/db_manager.py): kept, never renamed
PARSL_COLUMNS = {
    "workflow": "run_id workflow_name workflow_version time_began time_completed host user "
    "rundir tasks_failed_count tasks_completed_count",
    "status": "task_id task_status_name timestamp run_id try_id",
    "task": "task_id run_id task_depends task_func_name task_memoize task_hashsum task_inputs "
    "task_outputs task_stdin task_stdout task_stderr task_time_invoked task_time_returned "
    "task_fail_count task_fail_cost",
    "try": "try_id task_id run_id block_id hostname task_executor task_try_time_launched "
    "task_try_time_running task_try_time_returned task_fail_history task_joins",
    "node": "id run_id hostname uid block_id cpu_count total_memory active worker_count "
    "python_v timestamp last_heartbeat",
    "block": "run_id executor_label block_id job_id timestamp status",
    "resource": "try_id task_id run_id timestamp resource_monitoring_interval psutil_process_pid "
    "psutil_process_memory_percent psutil_process_children_count psutil_process_time_user "
    "psutil_process_time_system psutil_process_memory_virtual psutil_process_memory_resident "
    "psutil_process_disk_read psutil_process_disk_write psutil_process_status psutil_cpu_num "
    "psutil_process_num_ctx_switches_voluntary psutil_process_num_ctx_switches_involuntary",
}


def test_every_parsl_table_and_column_is_kept() -> None:
    for table, columns in PARSL_COLUMNS.items():
        ours = set(schema.metadata.tables[table].columns.keys())
        assert set(columns.split()) <= ours, table


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_shipped_revision_makes_exactly_the_schema(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        request.getfixturevalue("postgres_url")
        if backend == "postgresql"
        else sqlite_url(str(tmp_path))
    )
    store = Store(parse_url(url))
    store.ensure_schema()
    with store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": migrate.VERSION_TABLE}
        )
        differences = compare_metadata(context, schema.metadata)
        assert migrate.current_revision(connection) == migrate.head_revision()
    store.dispose()
    assert differences == []
    # SQLite files are in WAL mode, so readers never block the writer
    if backend == "sqlite":
        assert query(url, "PRAGMA journal_mode") == [("wal",)]


@pytest.fixture
def migrations_0002(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped revisions plus a 0002 that adds a column: this plait-monitoring, one
    release later."""
    directory = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, directory, ignore=shutil.ignore_patterns("__pycache__"))
    (directory / "versions" / "0002_note.py").write_text(
        textwrap.dedent(
            '''
            """Adds task.task_note.

            Revision ID: 0002
            Revises: 0001
            """
            import sqlalchemy as sa
            from alembic import op

            revision = "0002"
            down_revision = "0001"
            branch_labels = None
            depends_on = None


            def upgrade() -> None:
                op.add_column("task", sa.Column("task_note", sa.Text))
            '''
        )
    )
    monkeypatch.setattr(migrate, "MIGRATIONS", directory)
    return directory


def _recorded_run(runs_root: str) -> None:
    with plait.load(threads_config(runs_root, MonitoringHub())):
        assert double(1).result(timeout=10) == 2


def test_an_older_schema_is_refused_with_the_upgrade_command(
    runs_root: str, migrations_0002: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(runs_root)
    engine = make_engine(parse_url(url), writer=True)
    with engine.begin() as connection:  # a database written by the release before
        from alembic import command

        config = migrate._alembic_config(connection)
        command.upgrade(config, "0001")
    engine.dispose()
    # The check a hub's recorder makes (in this process: only here is 0002 shipped;
    # that a recorder's SchemaError fails load() is tested with a newer schema below)
    store = Store(parse_url(url))
    with pytest.raises(SchemaError) as info:
        store.ensure_schema()
    assert "revision 0001, older than revision 0002" in str(info.value)
    assert f"plait monitoring upgrade --db {url}" in str(info.value)
    assert plait_main(["monitoring", "upgrade", "--db", url]) == 0
    assert "revision 0001 -> 0002" in capsys.readouterr().out
    assert query(url, "SELECT task_note FROM task") == []
    store.ensure_schema()  # now it records
    store.dispose()


def test_a_newer_schema_is_refused(runs_root: str) -> None:
    _recorded_run(runs_root)
    url = sqlite_url(runs_root)
    with sqlite3.connect(f"{runs_root}/monitoring.db") as connection:
        connection.execute(f"UPDATE {migrate.VERSION_TABLE} SET version_num = '9999'")
    with pytest.raises(SchemaError, match="revision 9999, which this plait-monitoring does not"):
        _recorded_run(runs_root)
    assert plait_main(["monitoring", "upgrade", "--db", url]) == 1


def test_a_parsl_database_is_refused(runs_root: str) -> None:
    Path(runs_root).mkdir(parents=True)
    with sqlite3.connect(f"{runs_root}/monitoring.db") as connection:
        connection.execute("CREATE TABLE workflow (run_id TEXT PRIMARY KEY)")
    with pytest.raises(SchemaError, match="plait-monitoring did not create it"):
        _recorded_run(runs_root)


def test_upgrade_creates_an_empty_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(str(tmp_path))
    assert plait_main(["monitoring", "upgrade", "--db", url]) == 0
    assert plait_main(["monitoring", "upgrade", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "revision (empty) -> 0001" in out and "at revision 0001 already" in out
