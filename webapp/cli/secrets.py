"""``flask --app wsgi secrets ...``: set (the value from standard input, never from the
command line, where ``ps`` and the shell's history would keep it), list, rm, and
rotate-key."""
from __future__ import annotations

import sys

import click
from cryptography.fernet import Fernet
from flask.cli import AppGroup

from webapp.cli.common import cli_actor, fail
from webapp.cli.terminal import printable
from webapp.core.errors import ApiError
from webapp.secrets import keys, vault

secrets_cli = AppGroup("secrets", help="Secrets jobs get in their environment (values encrypted).")


@secrets_cli.command("set")
@click.argument("name")
def secrets_set(name: str) -> None:
    """Set secret NAME to the value read from standard input (one trailing newline is
    dropped: ``echo pw | ...``; a terminal is asked without echo)."""
    if sys.stdin.isatty():
        value = click.prompt(f"value of {name}", hide_input=True, confirmation_prompt=True)
    else:
        value = sys.stdin.read()
        value = value[:-1] if value.endswith("\n") else value
        value = value[:-1] if value.endswith("\r") else value
    try:
        _, created = vault.set_secret(name, value, actor=cli_actor())
    except ApiError as exc:
        fail(exc)
    click.echo(f"{'created' if created else 'updated'} secret {name}")


@secrets_cli.command("list")
def secrets_list() -> None:
    """List the secrets' names (never their values)."""
    for row in vault.list_secrets():
        click.echo(f"{printable(row.name):<64} {row.to_dict()['updated_at']}  {printable(row.updated_by or '-')}")


@secrets_cli.command("rm")
@click.argument("name")
def secrets_rm(name: str) -> None:
    """Delete secret NAME (runs of tasks referring to it then fail, naming it)."""
    try:
        vault.check_name(name)
        vault.delete_secret(name, actor=cli_actor())
    except ApiError as exc:
        fail(exc)
    click.echo(f"deleted secret {name}")


@secrets_cli.command("rotate-key")
def secrets_rotate_key() -> None:
    """Re-encrypt every stored value under a new key.

    With a key file (TASKPULSE_SECRETS_KEY_FILE, as `make run` sets up): a new key is
    made and put first in the file, every value is re-encrypted under it, then the old
    keys are dropped from the file; running processes read the file at each use. With
    TASKPULSE_SECRETS_KEY: put the new key first in it (keep the old ones after it) in
    every process and restart them, run this, then drop the old keys.
    """
    try:
        path = keys.key_file()
        if path is None:
            count = vault.rotate(actor=cli_actor())
            click.echo(f"re-encrypted {count} values under the first key of TASKPULSE_SECRETS_KEY; "
                       "the keys after it can now be removed (and the processes restarted)")
            return
        old = keys.parse_ring(keys.ring_text())
        new = Fernet.generate_key()
        # Readable throughout: first both keys (any process opens old and new tokens),
        # then the re-encryption, then the new key alone.
        keys.write_ring(path, [new, *old])
        count = vault.rotate(actor=cli_actor())
        keys.write_ring(path, [new])
    except ApiError as exc:
        fail(exc)
    click.echo(f"re-encrypted {count} values under a new key in {path}; the old key is gone")
