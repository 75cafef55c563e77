"""``flask --app wsgi users ...``: users, roles and API tokens (with an expiry)."""
from __future__ import annotations

import re
from datetime import timedelta

import click
from flask.cli import AppGroup

from webapp.access import users
from webapp.cli.common import cli_actor, fail
from webapp.core.errors import ApiError
from webapp.core.models import ROLES
from webapp.core.timeutil import iso, utcnow

users_cli = AppGroup("users", help="Users, roles and API tokens.")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Ten years: beyond that "expiring" means nothing, and datetimes would overflow soon after.
MAX_EXPIRY = timedelta(days=3650)


class Duration(click.ParamType):
    """A length of time such as ``90d``, ``12h``, ``30m`` or ``45s``."""

    name = "duration"

    def convert(self, value, param, ctx) -> timedelta:
        if isinstance(value, timedelta):
            return value
        match = re.fullmatch(r"([0-9]{1,7})([smhd])", str(value).strip().lower())
        if not match:
            self.fail(f"{value!r} is not a duration: give a whole number and a unit, "
                      "s, m, h or d (e.g. 90d, 12h, 30m, 45s)", param, ctx)
        length = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
        if not timedelta(0) < length <= MAX_EXPIRY:
            self.fail(f"{value!r} must be more than 0 and at most {MAX_EXPIRY.days}d", param, ctx)
        return length


@users_cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--password", help="Default: a strong password is generated and printed once.")
def users_create(name: str, role: str, password: str | None) -> None:
    """Create a user with a role (viewer, operator, admin)."""
    try:
        user, used = users.create_user(name, role, password, actor=cli_actor())
    except ApiError as exc:
        fail(exc)
    click.echo(f"created {user.role} {user.username!r}")
    if password is None:
        click.echo(f"password: {used}")


@users_cli.command("list")
def users_list() -> None:
    """List users and their roles."""
    for user in users.list_users():
        state = "" if user["active"] else "  (inactive)"
        click.echo(f"{user['username']:<24} {user['role']}{state}")


@users_cli.command("password")
@click.argument("name")
@click.password_option()
def users_password(name: str, password: str) -> None:
    """Set a user's password (their open sessions end)."""
    try:
        users.set_password(name, password)
    except ApiError as exc:
        fail(exc)
    click.echo(f"password of {name!r} changed")


@users_cli.command("token")
@click.argument("name")
@click.option("--label", default="", help="What the token is for.")
@click.option("--expires-in", "expires_in", type=Duration(), default=None,
              help="Refuse the token after this long: 90d, 12h, 30m, 45s (default: never).")
def users_token(name: str, label: str, expires_in: timedelta | None) -> None:
    """Issue a Bearer token for scripts (printed once, alone on stdout; only its hash
    is stored). With --expires-in it is refused ("token expired") after that long."""
    try:
        token = users.issue_token(name, label, expires_in=expires_in)
    except ApiError as exc:
        fail(exc)
    if expires_in is not None:
        click.echo(f"# expires at {iso(utcnow() + expires_in)}", err=True)
    click.echo(token)


@users_cli.command("revoke-tokens")
@click.argument("name")
def users_revoke(name: str) -> None:
    """Revoke every token of a user."""
    try:
        count = users.revoke_tokens(name)
    except ApiError as exc:
        fail(exc)
    click.echo(f"revoked {count} token(s) of {name!r}")
