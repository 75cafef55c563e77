"""``flask --app wsgi channels ...``: alert channels (Apprise URLs, always shown masked)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from webapp.alerts import channels, outbox
from webapp.cli.common import cli_actor, fail
from webapp.cli.terminal import printable
from webapp.core.errors import ApiError
from webapp.core.models import Channel

channels_cli = AppGroup("channels", help="Alert channels (Apprise URLs).")


def _find(key: str) -> Channel:
    channel = channels.find_channel(key)
    if channel is None:
        raise click.ClickException(printable(f"no channel with id or name {key!r}"))
    return channel


@channels_cli.command("list")
def channels_list() -> None:
    """List channels (URLs masked: scheme and host only)."""
    for channel in channels.list_channels():
        shown = channel.to_dict()
        state = "" if shown["enabled"] else "  (off)"
        click.echo(printable(f"{shown['id']:>4}  {shown['name']:<24} {shown['url']}{state}"))


@channels_cli.command("add")
@click.argument("name")
@click.option("--url", prompt=True, hide_input=True,
              help="The Apprise URL (prompted without echo when left out, to keep it out of shell history).")
def channels_add(name: str, url: str) -> None:
    """Add a channel NAME with an Apprise URL (json://, slack://, mailto://, ntfy://, ...)."""
    try:
        channel = channels.create_channel({"name": name, "url": url}, actor=cli_actor())
    except ApiError as exc:
        fail(exc)
    click.echo(printable(f"added channel {channel.name!r} ({channel.to_dict()['url']})"))


@channels_cli.command("test")
@click.argument("channel")
def channels_test(channel: str) -> None:
    """Queue a test message to CHANNEL (id or name); see it in `notifications list`."""
    found = _find(channel)
    rows = outbox.add(outbox.Alert(kind="test", title=f"Taskpulse: test message to {found.name}",
                                   body=f"Sent by {cli_actor()} from the Taskpulse CLI."), [found.name])
    if not rows:
        raise click.ClickException(printable(f"channel {found.name!r} is switched off"))
    click.echo(f"queued test message {rows[0].id}")


@channels_cli.command("remove")
@click.argument("channel")
def channels_remove(channel: str) -> None:
    """Remove CHANNEL (id or name); tasks stop naming it."""
    found = _find(channel)
    name = found.name
    try:
        channels.delete_channel(found.id, actor=cli_actor())
    except ApiError as exc:
        fail(exc)
    click.echo(printable(f"removed channel {name!r}"))
