"""The database schema: bring it to the newest revision with Alembic (the revisions in
``migrations/``), including databases made by ``db create`` before migrations existed."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext

from webapp.core.config import ROOT
from webapp.core.extensions import db

log = logging.getLogger(__name__)

MIGRATIONS_DIR = ROOT / "migrations"
# Taskpulse's own version table, so a host app's Alembic history (alembic_version) and
# Taskpulse's live side by side in one database.
VERSION_TABLE = "taskpulse_alembic_version"
# The schema `db create` made before migrations existed.
BASELINE = "0001"
_BASELINE_TABLES = {"tasks", "task_runs", "events", "settings", "users", "api_tokens", "audit_log"}
# PostgreSQL only: the trigram indexes that make the output search fast (name: column).
# Migration 0008 makes them on an upgraded database, ensure_search_indexes() on a fresh
# one; they stay out of the models so that SQLite never indexes megabytes of text, and
# the schema comparison (tests/e2e/test_migrations.py, migrations/env.py) leaves them be.
TRIGRAM_INDEXES = {"ix_taskpulse_task_runs_output_trgm": "output",
                   "ix_taskpulse_task_runs_error_trgm": "error"}


def alembic_config() -> AlembicConfig:
    """Alembic's configuration for Taskpulse's revisions (needs an app context to run)."""
    config = AlembicConfig(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def current_revision() -> str | None:
    """The revision the database is at, or None when it has no Taskpulse version table."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def _made_before_migrations() -> bool:
    """True for a database holding the pre-migration schema but no version table."""
    inspector = sa.inspect(db.engine)
    tables = set(inspector.get_table_names())
    if VERSION_TABLE in tables or not _BASELINE_TABLES <= tables:
        return False
    # A host app may own a table called "tasks": only ours has runs with fire times.
    return "scheduled_for" in {c["name"] for c in inspector.get_columns("task_runs")}


def _has_no_taskpulse_tables() -> bool:
    tables = set(sa.inspect(db.engine).get_table_names())
    return not tables & {table.name for table in db.metadata.sorted_tables}


def upgrade(revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the schema to ``revision``; returns (revision before, revision after).

    A database made by ``db create`` before migrations existed is first recorded as the
    baseline, so its tables and rows are kept and only later revisions run. A database
    without Taskpulse's tables gets the newest schema at once, recorded as the newest
    revision (Alembic's "create_all, then stamp" recipe): the baseline's unprefixed
    names could clash with a host app's own tables.
    """
    config = alembic_config()
    if _made_before_migrations():
        log.info("database made before migrations: recording it as revision %s", BASELINE)
        command.stamp(config, BASELINE)
    before = current_revision()
    if before is None and revision == "head" and _has_no_taskpulse_tables():
        db.create_all()
        with db.engine.begin() as connection:
            ensure_search_indexes(connection)
        command.stamp(config, "head")
    command.upgrade(config, revision)
    return before, current_revision()


def downgrade(revision: str) -> None:
    """Downgrade the schema to ``revision`` (for trying a release and going back)."""
    command.downgrade(alembic_config(), revision)


def ensure_search_indexes(connection: sa.Connection) -> bool:
    """On PostgreSQL, make the ``pg_trgm`` extension (``IF NOT EXISTS``) and the
    :data:`TRIGRAM_INDEXES`; True when they exist afterwards. Without the extension (the
    contrib package missing, or a role that may not create it) the search still works,
    as a scan: this logs a warning and returns False. Elsewhere a no-op (False)."""
    if connection.dialect.name != "postgresql":
        return False
    try:
        with connection.begin_nested():
            connection.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        log.warning("output search without its index: cannot create extension pg_trgm (%s)",
                    str(exc.orig).strip().splitlines()[0])
        return False
    for name, column in TRIGRAM_INDEXES.items():
        connection.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {name} ON taskpulse_task_runs "
                                   f"USING gin ({column} gin_trgm_ops)"))
    return True
