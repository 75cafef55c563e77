"""``flask --app wsgi db ...``: the schema (upgrade, current, downgrade) and retention."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from webapp.access import users
from webapp.cli.seed import EXAMPLE_TASKS
from webapp.core import instance_files, schema
from webapp.core.extensions import db
from webapp.runs import retention
from webapp.tasks import store

db_cli = AppGroup("db", help="Database schema.")


@db_cli.command("upgrade")
@click.option("--seed/--no-seed", default=False, help="Add the example tasks to an empty database.")
def db_upgrade(seed: bool) -> None:
    """Create or upgrade the schema to the newest revision (idempotent); make the first
    admin user; optionally seed example tasks."""
    # Made here, before SQLite would make it world-readable (0644 under the usual umask).
    instance_files.private_sqlite_file(db.engine.url)
    before, after = schema.upgrade()
    click.echo(f"database schema at revision {after}" +
               (f" (was {before})" if before != after else " (already up to date)"))
    generated = users.ensure_admin(current_app.config["ADMIN_PASSWORD"])
    if generated:
        click.echo(f"created user 'admin' with password: {generated}  (shown once; "
                   "set ADMIN_PASSWORD before the first run to choose it)")
    if seed and not store.list_tasks():
        for spec in EXAMPLE_TASKS:
            store.create_task(spec, actor="setup")
        click.echo(f"seeded {len(EXAMPLE_TASKS)} example tasks")


# The first release's command; scripts written for it keep working.
db_cli.add_command(click.Command("create", callback=db_upgrade.callback, params=db_upgrade.params,
                                 help="Same as `db upgrade` (the first release's name).",
                                 hidden=True))


@db_cli.command("current")
def db_current() -> None:
    """Print the schema revision the database is at."""
    click.echo(schema.current_revision() or "none (run `db upgrade`)")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Take the schema back to REVISION (e.g. 0001), to return to an older release."""
    schema.downgrade(revision)
    click.echo(f"database schema at revision {schema.current_revision()}")


@db_cli.command("prune")
@click.option("--days", type=float, default=None,
              help="Keep this many days (default: TASKPULSE_RETENTION_DAYS, 30; 0 keeps all by age).")
@click.option("--max-events", type=int, default=None,
              help="Keep at most this many events (default: TASKPULSE_EVENT_LOG_MAX).")
def db_prune(days: float | None, max_events: int | None) -> None:
    """Delete finished runs (with their output) and events past retention."""
    result = retention.prune(days=days, max_events=max_events)
    click.echo(f"pruned {result.runs} runs and {result.events} events")
