"""What every ``flask --app wsgi`` command group shares: who acts, and errors as messages."""
from __future__ import annotations

import os
from typing import NoReturn

import click

from webapp.cli.terminal import printable
from webapp.core.errors import ApiError


def cli_actor() -> str:
    """The audit log's name for whoever runs the command (``cli:<login>``)."""
    return f"cli:{os.environ.get('USER', 'unknown')}"


def fail(exc: ApiError) -> NoReturn:
    """End the command with the error's message (and field), exit status 1, no traceback."""
    field = f" ({exc.field})" if exc.field else ""
    raise click.ClickException(printable(f"{exc.message}{field}"))
