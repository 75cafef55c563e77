"""The ``flask --app wsgi ...`` commands: one module per command group, registered by
:func:`register`, each a thin face over the rooms below.

May import: every room but ``webapp.web``.
"""
from __future__ import annotations

from flask import Flask
from flask.cli import AppGroup


def register(app: Flask, under: str | None = None) -> None:
    """Add the command groups to the app's CLI: at the top level (standalone), or under
    one group named ``under`` (embedded: the host may have its own ``db`` or ``users``)."""
    from webapp.cli import tasks_code  # noqa: F401  (adds export, import, import-crontab to tasks_cli)
    from webapp.cli.channels import channels_cli
    from webapp.cli.db import db_cli
    from webapp.cli.events import events_cli
    from webapp.cli.groups import groups_cli
    from webapp.cli.notifications import notifications_cli
    from webapp.cli.runs import runs_cli
    from webapp.cli.scheduler import scheduler_cli
    from webapp.cli.secrets import secrets_cli
    from webapp.cli.tasks import tasks_cli
    from webapp.cli.users import users_cli

    groups = (scheduler_cli, users_cli, db_cli, tasks_cli, events_cli, runs_cli,
              channels_cli, notifications_cli, secrets_cli, groups_cli)
    if under is None:
        for group in groups:
            app.cli.add_command(group)
        return
    parent = AppGroup(under, help="Taskpulse: the live task scheduler mounted in this app.")
    for group in groups:
        parent.add_command(group)
    app.cli.add_command(parent)
