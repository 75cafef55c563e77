"""Prefix Taskpulse's tables with taskpulse_ (to share a host app's database).

A host app may well have its own ``users``, ``tasks`` or ``events``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Parents before children is not needed for a rename; the order only keeps logs readable.
TABLES = ("tasks", "task_runs", "events", "settings", "users", "api_tokens", "audit_log")
PREFIX = "taskpulse_"
# (old table, column) of every index made by `index=True`: named ix_<table>_<column>.
INDEXES = (
    ("tasks", "next_run_at"),
    ("task_runs", "status"),
    ("task_runs", "task_id"),
    ("events", "created_at"),
    ("events", "run_id"),
    ("events", "task_id"),
    ("api_tokens", "user_id"),
    ("audit_log", "at"),
)


def _rename_postgresql_names(old: str, new: str) -> None:
    """PostgreSQL names constraints (and the indexes behind them) and sequences after
    the table, in one namespace per schema: rename them too, or a host table created
    later under the old name would collide with them."""
    bind = op.get_bind()
    constraints = bind.execute(
        sa.text("SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass)"),
        {"t": new},
    ).scalars().all()
    for name in constraints:
        if name.startswith(old + "_"):
            op.execute(f'ALTER TABLE {new} RENAME CONSTRAINT "{name}" TO "{new}{name[len(old):]}"')
    sequences = bind.execute(sa.text(
        "SELECT s.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
        "WHERE s.relkind = 'S' AND d.refobjid = CAST(:t AS regclass)"
    ), {"t": new}).scalars().all()
    for name in sequences:
        if name.startswith(old + "_"):
            op.execute(f'ALTER SEQUENCE "{name}" RENAME TO "{new}{name[len(old):]}"')


def _rename(old: str, new: str, indexes) -> None:
    op.rename_table(old, new)
    if op.get_bind().dialect.name == "postgresql":
        _rename_postgresql_names(old, new)
    for table, column in indexes:
        if table == old:
            # SQLite cannot rename an index: drop and make it again (both dialects).
            op.drop_index(f"ix_{old}_{column}", table_name=new)
            op.create_index(f"ix_{new}_{column}", new, [column])


def upgrade():
    for table in TABLES:
        _rename(table, PREFIX + table, INDEXES)


def downgrade():
    prefixed = tuple((PREFIX + table, column) for table, column in INDEXES)
    for table in TABLES:
        _rename(PREFIX + table, table, prefixed)
