"""``flask --app wsgi scheduler ...``: the global pause of scheduled fires."""
from __future__ import annotations

from typing import Any

import click
from flask.cli import AppGroup

from webapp.cli.common import cli_actor
from webapp.scheduling import pause

scheduler_cli = AppGroup("scheduler", help="The global pause of scheduled fires.")


def _show_scheduler(status: dict[str, Any]) -> None:
    state = "paused" if status["paused"] else "running"
    since = f" since {status['since']}" if status.get("since") else ""
    by = f" by {status['by']}" if status.get("by") else ""
    click.echo(f"scheduler {state}{since}{by}; leader: {status.get('leader') or 'none'}")


@scheduler_cli.command("status")
def scheduler_status() -> None:
    """Show whether scheduled fires are paused, and which scheduler leads."""
    _show_scheduler(pause.scheduler_status())


@scheduler_cli.command("pause")
def scheduler_pause() -> None:
    """Pause scheduled fires everywhere (Run Now still works)."""
    _show_scheduler(pause.set_paused(True, by=cli_actor()))


@scheduler_cli.command("resume")
def scheduler_resume() -> None:
    """Resume scheduled fires (fires passed while paused are not caught up)."""
    _show_scheduler(pause.set_paused(False, by=cli_actor()))
