"""The monitoring tables: Parsl's table names, column names and status names.

A Parsl user's SQL and notebooks keep working on a plait database: every table
and column Parsl's monitoring writes is here under the same name, and
``status.task_status_name`` holds the same state names (``pending``,
``launched``, ``running``, ``exec_done``, ``failed``, ``dep_fail``,
``memo_done``, ``fail_retryable``, ``joining``, ``running_ended``, plus plait's
``cancelled``). Times are naive local ``DateTime`` values, as Parsl writes them.

plait's additions are extra columns only (never a rename), marked below; some of
Parsl's NOT NULL columns are nullable here because plait's events do not carry
those values (yet).

This module describes the *current* schema. The database is created and
changed only by the Alembic revisions in ``migrations/versions``; a test checks
the two agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)

metadata = MetaData()

workflow = Table(
    "workflow",
    metadata,
    Column("run_id", Text, primary_key=True),
    Column("workflow_name", Text),
    Column("workflow_version", Text),
    Column("time_began", DateTime, nullable=False),
    Column("time_completed", DateTime),
    Column("host", Text, nullable=False),
    Column("user", Text, nullable=False),
    Column("rundir", Text, nullable=False),
    Column("tasks_failed_count", Integer, nullable=False),
    Column("tasks_completed_count", Integer, nullable=False),
)

task = Table(
    "task",
    metadata,
    Column("task_id", Integer, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("task_depends", Text),
    Column("task_func_name", Text, nullable=False),
    Column("task_memoize", Text),  # NOT NULL in Parsl; not in plait's events yet
    Column("task_hashsum", Text),
    Column("task_inputs", Text),
    Column("task_outputs", Text),
    Column("task_stdin", Text),
    Column("task_stdout", Text),
    Column("task_stderr", Text),
    Column("task_time_invoked", DateTime),
    Column("task_time_returned", DateTime),
    Column("task_fail_count", Integer, nullable=False),
    Column("task_fail_cost", Float),  # NOT NULL in Parsl; not in plait's events yet
    # plait: the task's latest state, so "tasks by state" needs no scan of `status`
    Column("task_status_name", Text),
    # plait: "Type: message" of the exception a failed task ended with
    Column("task_error", Text),
    PrimaryKeyConstraint("task_id", "run_id"),
    Index("ix_task_task_hashsum", "task_hashsum"),
    Index("ix_task_run_func_state", "run_id", "task_func_name", "task_status_name"),
    Index("ix_task_run_task", "run_id", "task_id"),  # the UI's task lists and DAG, by id
)

try_ = Table(
    "try",
    metadata,
    Column("try_id", Integer, nullable=False),
    Column("task_id", Integer, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("block_id", Text),
    Column("hostname", Text),
    Column("task_executor", Text, nullable=False),
    Column("task_try_time_launched", DateTime),
    Column("task_try_time_running", DateTime),
    Column("task_try_time_returned", DateTime),
    Column("task_fail_history", Text),
    Column("task_joins", Text),
    PrimaryKeyConstraint("try_id", "task_id", "run_id"),
    Index("ix_try_run_task", "run_id", "task_id"),
)

status = Table(
    "status",
    metadata,
    Column("task_id", Integer, nullable=False),
    Column("task_status_name", Text, nullable=False),
    Column("timestamp", DateTime, nullable=False),
    Column("run_id", Text, ForeignKey("workflow.run_id"), nullable=False),
    Column("try_id", Integer, nullable=False),
    PrimaryKeyConstraint("task_id", "run_id", "task_status_name", "timestamp"),
    Index("ix_status_run_task_time", "run_id", "task_id", "timestamp"),  # a task's history
    Index("ix_status_run_time", "run_id", "timestamp"),
)

block = Table(
    "block",
    metadata,
    Column("run_id", Text, nullable=False),
    Column("executor_label", Text, nullable=False),
    Column("block_id", Text, nullable=False),
    Column("job_id", Text),
    Column("timestamp", DateTime, nullable=False),
    Column("status", Text, nullable=False),
    Column("message", Text),  # plait: the provider's reason, e.g. why a job failed
    PrimaryKeyConstraint("run_id", "block_id", "executor_label", "timestamp"),
    Index("ix_block_run", "run_id"),
)

node = Table(
    "node",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Text, nullable=False),
    Column("hostname", Text, nullable=False),
    Column("uid", Text, nullable=False),
    Column("block_id", Text, nullable=False),
    Column("cpu_count", Integer, nullable=False),
    Column("total_memory", BigInteger, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("worker_count", Integer, nullable=False),
    Column("python_v", Text, nullable=False),
    Column("timestamp", DateTime, nullable=False),
    Column("last_heartbeat", DateTime, nullable=False),
    Index("ix_node_run", "run_id"),
)

resource = Table(
    "resource",
    metadata,
    Column("try_id", Integer, nullable=False),
    Column("task_id", Integer, nullable=False),
    Column("run_id", Text, ForeignKey("workflow.run_id"), nullable=False),
    Column("timestamp", DateTime, nullable=False),
    Column("resource_monitoring_interval", Float),
    Column("psutil_process_pid", Integer),
    Column("psutil_process_memory_percent", Float),
    Column("psutil_process_children_count", Float),
    Column("psutil_process_time_user", Float),
    Column("psutil_process_time_system", Float),
    Column("psutil_process_memory_virtual", Float),
    Column("psutil_process_memory_resident", Float),
    Column("psutil_process_disk_read", Float),
    Column("psutil_process_disk_write", Float),
    Column("psutil_process_status", Text),
    Column("psutil_cpu_num", Text),
    Column("psutil_process_num_ctx_switches_voluntary", Float),
    Column("psutil_process_num_ctx_switches_involuntary", Float),
    PrimaryKeyConstraint("try_id", "task_id", "run_id", "timestamp"),
    Index("ix_resource_run_task_try", "run_id", "task_id", "try_id"),
)

#: every table Parsl's monitoring creates; a database holding any of them without
#: plait's version table was not made by plait-monitoring.
PARSL_TABLES = ("workflow", "task", "try", "status", "block", "node", "resource")
