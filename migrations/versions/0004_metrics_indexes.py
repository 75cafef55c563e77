"""/metrics reads its run counts and last success/failure times from indexes:
(task_id, status, trigger) and (status, task_id, finished_at) on taskpulse_task_runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLE = "taskpulse_task_runs"
INDEXES = {
    "ix_taskpulse_task_runs_task_status_trigger": ["task_id", "status", "trigger"],
    "ix_taskpulse_task_runs_status_task_finished": ["status", "task_id", "finished_at"],
}


def upgrade():
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade():
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        for name in INDEXES:
            batch_op.drop_index(name)
