"""Parameters, environment and secrets: a task's params and env, a run's params (the
secret ones only as a Fernet token), and the secrets table (values encrypted).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ADDED = (
    ("taskpulse_tasks", "params", sa.JSON()),
    ("taskpulse_tasks", "env", sa.JSON()),
    ("taskpulse_task_runs", "params", sa.JSON()),
    ("taskpulse_task_runs", "secret_params", sa.Text()),
)


def upgrade():
    op.create_table(
        "taskpulse_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    for table, column, kind in _ADDED:
        op.add_column(table, sa.Column(column, kind, nullable=True))


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, _ in reversed(_ADDED):
        if sqlite:
            # Not batch mode: it would copy the table and drop the original, and the
            # drop cascades to every run (ON DELETE CASCADE). SQLite 3.35+ drops in place.
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        else:
            op.drop_column(table, column)
    op.drop_table("taskpulse_secrets")
