"""Search through run output (GET /api/runs/search): on PostgreSQL, the pg_trgm
extension and a trigram GIN index on taskpulse_task_runs.output and on .error, so that
a case-insensitive substring match (ILIKE '%text%') reads the index instead of every
stored output. On SQLite nothing changes (the search is a scan with a limit).

Without the extension (the contrib package missing, or a role that may not create it;
pg_trgm is a trusted extension since PostgreSQL 13, so a database owner may) the
revision still succeeds and logs a warning: search works, unindexed. After a
``CREATE EXTENSION pg_trgm`` by a superuser, create the two indexes as below (or
``flask --app wsgi db downgrade -1`` then ``db upgrade``).

The index build takes a lock that holds run writes back while it lasts (bench/README.md
has its time on 100,000 stored outputs). Downgrading drops the
indexes and leaves the extension, which other schemas may use.

Revision ID: 0008
Revises: 0007 (params and secrets)
Create Date: 2026-12-03
"""
import logging

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
# The names of webapp.core.schema.TRIGRAM_INDEXES when this revision was written (a
# revision does not import the app: it must do tomorrow what it did today).
INDEXES = {"ix_taskpulse_task_runs_output_trgm": "output",
           "ix_taskpulse_task_runs_error_trgm": "error"}


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        log.warning("output search without its index: cannot create extension pg_trgm (%s)",
                    str(exc.orig).strip().splitlines()[0])
        return
    for name, column in INDEXES.items():
        bind.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {name} ON taskpulse_task_runs "
                             f"USING gin ({column} gin_trgm_ops)"))


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
