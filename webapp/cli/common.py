"""What every ``flask --app wsgi`` command group shares: who acts, which task a command
names, and errors as messages."""
from __future__ import annotations

import os
from typing import NoReturn

import click

from webapp.cli.terminal import printable
from webapp.core.errors import ApiError
from webapp.core.models import Task
from webapp.tasks import store


def cli_actor() -> str:
    """The audit log's name for whoever runs the command (``cli:<login>``)."""
    return f"cli:{os.environ.get('USER', 'unknown')}"


def fail(exc: ApiError) -> NoReturn:
    """End the command with the error's message (and field), exit status 1, no traceback."""
    field = f" ({exc.field})" if exc.field else ""
    raise click.ClickException(printable(f"{exc.message}{field}"))


def find_task(key: str) -> Task:
    """The task a command names by id or by name, or the command ends with a message."""
    task = store.find_task(key)
    if task is None:
        raise click.ClickException(printable(f"no task with id or name {key!r}"))
    return task
