"""Alerts: channels (Apprise URLs), the outbox of notifications, and a task's notify rules.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "taskpulse_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "taskpulse_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("folded_into", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("taskpulse_notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_taskpulse_notifications_channel"), ["channel"], unique=False)
        batch_op.create_index(batch_op.f("ix_taskpulse_notifications_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_taskpulse_notifications_task_id"), ["task_id"], unique=False)
    op.add_column("taskpulse_tasks", sa.Column("notify", sa.JSON(), nullable=True))


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        # Not batch mode: it would copy taskpulse_tasks and drop the original, and the
        # drop cascades to every run (ON DELETE CASCADE). SQLite 3.35+ drops in place.
        op.execute("ALTER TABLE taskpulse_tasks DROP COLUMN notify")
    else:
        op.drop_column("taskpulse_tasks", "notify")
    with op.batch_alter_table("taskpulse_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_taskpulse_notifications_task_id"))
        batch_op.drop_index(batch_op.f("ix_taskpulse_notifications_created_at"))
        batch_op.drop_index(batch_op.f("ix_taskpulse_notifications_channel"))
    op.drop_table("taskpulse_notifications")
    op.drop_table("taskpulse_channels")
