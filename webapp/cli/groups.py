"""``flask --app wsgi groups ...``: concurrency limits per tag (design.md, "Queues,
chains, groups")."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from webapp.cli.common import cli_actor, fail
from webapp.cli.terminal import printable
from webapp.core.errors import ApiError
from webapp.runs import group_settings

groups_cli = AppGroup("groups", help="Concurrency groups: at most N runs at once of the tasks with a tag.")


@groups_cli.command("list")
def groups_list() -> None:
    """Each limited tag with its limit and the slots in use now."""
    status = group_settings.status()
    if not status["concurrency"]:
        click.echo("no concurrency limits")
    for tag, limit in status["concurrency"].items():
        click.echo(printable(f"{tag:<24} {status['in_use'].get(tag, 0)} of {limit} in use"))


@groups_cli.command("set")
@click.argument("tag")
@click.argument("limit", type=int)
def groups_set(tag: str, limit: int) -> None:
    """At most LIMIT runs at once of the tasks tagged TAG (across all workers)."""
    try:
        group_settings.set_limit(tag, limit, actor=cli_actor())
    except ApiError as exc:
        fail(exc)
    click.echo(printable(f"group {tag}: at most {limit} at once"))


@groups_cli.command("clear")
@click.argument("tag")
def groups_clear(tag: str) -> None:
    """Remove TAG's limit (its runs no longer wait for one another)."""
    try:
        group_settings.set_limit(tag, None, actor=cli_actor())
    except ApiError as exc:
        fail(exc)
    click.echo(printable(f"group {tag}: no limit"))
