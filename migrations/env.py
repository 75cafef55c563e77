"""Alembic environment for Taskpulse's own tables.

Self-contained (it does not read Flask-Migrate's per-app state), so the same revisions
run from `flask --app wsgi db upgrade`, from Flask-Migrate's `migrations` commands, and
inside a host application that embeds Taskpulse and keeps its own Alembic history:
Taskpulse records its revision in its own version table.
"""
import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

from webapp.core.extensions import db
from webapp.core.schema import TRIGRAM_INDEXES, VERSION_TABLE

config = context.config
if config.config_file_name and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
log = logging.getLogger("alembic.env")


def _engine():
    # Flask-SQLAlchemy's engine for the current app: the app's (or host's) database.
    return db.engines[None] if current_app else None


def _skip_empty_autogenerate(context_, revision, directives) -> None:
    # `migrations migrate` with no model change should not write an empty revision.
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        log.info("No changes in schema detected.")


def _not_a_trigram_index(obj, name, type_, reflected, compare_to) -> bool:
    # PostgreSQL's output-search indexes live outside the models (webapp.core.schema):
    # autogenerate must not offer to drop them.
    return not (type_ == "index" and name in TRIGRAM_INDEXES)


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=db.metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=True,
        compare_type=True,
        process_revision_directives=_skip_empty_autogenerate,
        include_object=_not_a_trigram_index,
        **kwargs,
    )


if context.is_offline_mode():
    _configure(url=str(_engine().url), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    with _engine().connect() as connection:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
