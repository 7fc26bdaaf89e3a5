"""The first schema: Parsl's seven tables, plait's extra columns and the indexes.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workflow",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("workflow_name", sa.Text),
        sa.Column("workflow_version", sa.Text),
        sa.Column("time_began", sa.DateTime, nullable=False),
        sa.Column("time_completed", sa.DateTime),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("user", sa.Text, nullable=False),
        sa.Column("rundir", sa.Text, nullable=False),
        sa.Column("tasks_failed_count", sa.Integer, nullable=False),
        sa.Column("tasks_completed_count", sa.Integer, nullable=False),
    )
    op.create_table(
        "task",
        sa.Column("task_id", sa.Integer, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("task_depends", sa.Text),
        sa.Column("task_func_name", sa.Text, nullable=False),
        sa.Column("task_memoize", sa.Text),
        sa.Column("task_hashsum", sa.Text),
        sa.Column("task_inputs", sa.Text),
        sa.Column("task_outputs", sa.Text),
        sa.Column("task_stdin", sa.Text),
        sa.Column("task_stdout", sa.Text),
        sa.Column("task_stderr", sa.Text),
        sa.Column("task_time_invoked", sa.DateTime),
        sa.Column("task_time_returned", sa.DateTime),
        sa.Column("task_fail_count", sa.Integer, nullable=False),
        sa.Column("task_fail_cost", sa.Float),
        sa.Column("task_status_name", sa.Text),
        sa.Column("task_error", sa.Text),
        sa.PrimaryKeyConstraint("task_id", "run_id"),
    )
    op.create_index("ix_task_task_hashsum", "task", ["task_hashsum"])
    op.create_index(
        "ix_task_run_func_state", "task", ["run_id", "task_func_name", "task_status_name"]
    )
    op.create_index("ix_task_run_task", "task", ["run_id", "task_id"])
    op.create_table(
        "try",
        sa.Column("try_id", sa.Integer, nullable=False),
        sa.Column("task_id", sa.Integer, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("block_id", sa.Text),
        sa.Column("hostname", sa.Text),
        sa.Column("task_executor", sa.Text, nullable=False),
        sa.Column("task_try_time_launched", sa.DateTime),
        sa.Column("task_try_time_running", sa.DateTime),
        sa.Column("task_try_time_returned", sa.DateTime),
        sa.Column("task_fail_history", sa.Text),
        sa.Column("task_joins", sa.Text),
        sa.PrimaryKeyConstraint("try_id", "task_id", "run_id"),
    )
    op.create_index("ix_try_run_task", "try", ["run_id", "task_id"])
    op.create_table(
        "status",
        sa.Column("task_id", sa.Integer, nullable=False),
        sa.Column("task_status_name", sa.Text, nullable=False),
        sa.Column("timestamp", sa.DateTime, nullable=False),
        sa.Column("run_id", sa.Text, sa.ForeignKey("workflow.run_id"), nullable=False),
        sa.Column("try_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("task_id", "run_id", "task_status_name", "timestamp"),
    )
    op.create_index("ix_status_run_task_time", "status", ["run_id", "task_id", "timestamp"])
    op.create_index("ix_status_run_time", "status", ["run_id", "timestamp"])
    op.create_table(
        "block",
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("executor_label", sa.Text, nullable=False),
        sa.Column("block_id", sa.Text, nullable=False),
        sa.Column("job_id", sa.Text),
        sa.Column("timestamp", sa.DateTime, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("message", sa.Text),
        sa.PrimaryKeyConstraint("run_id", "block_id", "executor_label", "timestamp"),
    )
    op.create_index("ix_block_run", "block", ["run_id"])
    op.create_table(
        "node",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("hostname", sa.Text, nullable=False),
        sa.Column("uid", sa.Text, nullable=False),
        sa.Column("block_id", sa.Text, nullable=False),
        sa.Column("cpu_count", sa.Integer, nullable=False),
        sa.Column("total_memory", sa.BigInteger, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("worker_count", sa.Integer, nullable=False),
        sa.Column("python_v", sa.Text, nullable=False),
        sa.Column("timestamp", sa.DateTime, nullable=False),
        sa.Column("last_heartbeat", sa.DateTime, nullable=False),
    )
    op.create_index("ix_node_run", "node", ["run_id"])
    op.create_table(
        "resource",
        sa.Column("try_id", sa.Integer, nullable=False),
        sa.Column("task_id", sa.Integer, nullable=False),
        sa.Column("run_id", sa.Text, sa.ForeignKey("workflow.run_id"), nullable=False),
        sa.Column("timestamp", sa.DateTime, nullable=False),
        sa.Column("resource_monitoring_interval", sa.Float),
        sa.Column("psutil_process_pid", sa.Integer),
        sa.Column("psutil_process_memory_percent", sa.Float),
        sa.Column("psutil_process_children_count", sa.Float),
        sa.Column("psutil_process_time_user", sa.Float),
        sa.Column("psutil_process_time_system", sa.Float),
        sa.Column("psutil_process_memory_virtual", sa.Float),
        sa.Column("psutil_process_memory_resident", sa.Float),
        sa.Column("psutil_process_disk_read", sa.Float),
        sa.Column("psutil_process_disk_write", sa.Float),
        sa.Column("psutil_process_status", sa.Text),
        sa.Column("psutil_cpu_num", sa.Text),
        sa.Column("psutil_process_num_ctx_switches_voluntary", sa.Float),
        sa.Column("psutil_process_num_ctx_switches_involuntary", sa.Float),
        sa.PrimaryKeyConstraint("try_id", "task_id", "run_id", "timestamp"),
    )
    op.create_index("ix_resource_run_task_try", "resource", ["run_id", "task_id", "try_id"])


def downgrade() -> None:
    for table in ("resource", "node", "block", "status", "try", "task", "workflow"):
        op.drop_table(table)
