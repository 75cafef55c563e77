"""Queues, chains, concurrency groups: a task's RQ queue, tags and ``then`` list (column ``then_tasks``: THEN is an SQL keyword); a
run's parent (the run whose end started it) and why it waits off the queue.

Existing tasks go to queue ``taskpulse``, the default. A server started with
``TASKPULSE_QUEUE`` set to another name should move them
(``UPDATE taskpulse_tasks SET queue = '<name>'``) or name ``taskpulse`` among its
workers' queues.

Revision ID: 0009
Revises: 0008 (output search)
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ADDED = (
    ("taskpulse_tasks", sa.Column("queue", sa.String(length=64), nullable=False,
                                  server_default="taskpulse")),
    ("taskpulse_tasks", sa.Column("tags", sa.JSON(), nullable=True)),
    ("taskpulse_tasks", sa.Column("then_tasks", sa.JSON(), nullable=True)),
    ("taskpulse_task_runs", sa.Column("parent_run_id", sa.Integer(), nullable=True)),
    ("taskpulse_task_runs", sa.Column("waiting", sa.String(length=200), nullable=True)),
)
_INDEX = "ix_taskpulse_task_runs_parent_run_id"


def upgrade():
    for table, column in _ADDED:
        op.add_column(table, column)
    op.create_index(_INDEX, "taskpulse_task_runs", ["parent_run_id"])


def downgrade():
    op.drop_index(_INDEX, table_name="taskpulse_task_runs")
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column in reversed(_ADDED):
        if sqlite:
            # Not batch mode: it would copy the table and drop the original, and the
            # drop cascades to every run (ON DELETE CASCADE). SQLite 3.35+ drops in place.
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column.name}")
        else:
            op.drop_column(table, column.name)
