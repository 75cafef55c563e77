"""``flask --app wsgi tasks ...``: list, create and run tasks."""
from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import AppGroup

from webapp.access import audit
from webapp.cli.common import cli_actor, fail, find_task
from webapp.cli.terminal import printable
from webapp.core.errors import ApiError, ValidationError
from webapp.core.models import TASK_DEFAULTS
from webapp.runs import dispatch
from webapp.secrets.params import from_text
from webapp.tasks import store

tasks_cli = AppGroup("tasks", help="List, create and run tasks.")


@tasks_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def tasks_list(as_json: bool) -> None:
    """List tasks with their last status."""
    rows = [t.to_dict() for t in store.list_tasks()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'ID':>4}  {'NAME':<32} {'KIND':<7} {'LAST STATUS':<12} LAST RUN")
    for row in rows:
        click.echo(
            f"{row['id']:>4}  {printable(row['name'][:32], keep_newlines=False):<32} {row['kind']:<7} "
            f"{row['last_status'] or '-':<12} {row['last_run_at'] or '-'}"
        )


@tasks_cli.command("create")
@click.argument("name")
@click.option("--command", "command", help="Shell command (kind shell).")
@click.option("--callable", "target", help="module:function (kind python).")
@click.option("--description", default="")
@click.option("--timeout", type=int, default=TASK_DEFAULTS["timeout"], show_default=True)
def tasks_create(name: str, command: str | None, target: str | None, description: str, timeout: int) -> None:
    """Create a shell task (--command) or a python task (--callable)."""
    if bool(command) == bool(target):
        raise click.UsageError("give exactly one of --command or --callable")
    spec: dict[str, Any] = {"name": name, "description": description, "timeout": timeout}
    if command:
        spec.update(kind="shell", config={"command": command})
    else:
        spec.update(kind="python", config={"callable": target, "kwargs": {}})
    try:
        task = store.create_task(spec, actor=cli_actor())
    except ApiError as exc:
        fail(exc)
    click.echo(f"created task {task.id}: {task.name}")


def parse_params(task_params: list[dict[str, Any]] | None, pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--param k=v`` pairs as typed values of the task's parameters (a value is text
    on the command line: ``5`` for an integer, ``true`` for a boolean).

    Raises:
        ValidationError: naming ``params.<name>``.
    """
    known = {d["name"]: d for d in task_params or []}
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise ValidationError("give --param NAME=VALUE", "params")
        if name not in known:
            raise ValidationError(f"this task has no parameter {name[:64]!r}", f"params.{name[:64]}")
        values[name] = from_text(known[name], text, f"params.{name}")
    return values


@tasks_cli.command("run")
@click.argument("task")
@click.option("--param", "pairs", multiple=True, metavar="NAME=VALUE",
              help="A parameter value (repeat for several); the others take their defaults.")
def tasks_run(task: str, pairs: tuple[str, ...]) -> None:
    """Run a task now (by id or name), as the page's Run Now does."""
    found = find_task(task)
    try:
        params = parse_params(found.params, pairs)
        result = dispatch.dispatch(found.id, "manual", params)
    except ApiError as exc:
        fail(exc)
    audit.log_run(cli_actor(), "run", found.id, result["run_id"])
    if result["status"] == "failed":  # refused by a switch: the run exists, ended failed
        raise click.ClickException(f"run {result['run_id']} failed: {result['error']}")
    click.echo(f"queued run {result['run_id']} as job {result['job_id']}")
