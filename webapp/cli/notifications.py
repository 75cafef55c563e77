"""``flask --app wsgi notifications ...``: the outbox of alerts and their deliveries."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from webapp.alerts import outbox
from webapp.cli.terminal import printable

notifications_cli = AppGroup("notifications", help="The outbox of alerts and their deliveries.")


@notifications_cli.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
def notifications_list(limit: int) -> None:
    """The newest outbox rows: id, status, attempts, channel, title, error."""
    for row in outbox.recent(limit):
        error = f"  [{row['error']}]" if row["error"] else ""
        click.echo(printable(f"{row['id']:>6}  {row['status']:<8} x{row['attempts']}  {row['channel']:<16} "
                             f"{row['kind']:<9} {row['title']}{error}"))
