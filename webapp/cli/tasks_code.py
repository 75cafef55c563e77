"""``flask --app wsgi tasks export | import FILE | import-crontab FILE``: tasks as code
(the file format: :mod:`webapp.tasks.yaml_io`; what an import does: :mod:`webapp.tasks.sync`).
The commands join the ``tasks`` group of :mod:`webapp.cli.tasks`."""
from __future__ import annotations

import sys

import click

from webapp.cli.common import cli_actor, fail
from webapp.cli.tasks import tasks_cli
from webapp.cli.terminal import printable
from webapp.core.errors import ApiError
from webapp.core.extensions import db
from webapp.tasks import crontab, sync, yaml_io


def _read(path: str) -> str:
    try:
        with click.open_file(path, "r", encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(printable(f"cannot read {path}: {exc}")) from None


def _report(plan: sync.Plan, dry_run: bool) -> None:
    """Print the diff, one line per task that changes, and the counts."""
    for fields in sorted(plan.creates, key=lambda f: f["name"]):
        click.echo(f"create     {printable(fields['name'], keep_newlines=False)}")
    for task, _ in sorted(plan.updates, key=lambda pair: pair[0].name):
        fields = ", ".join(plan.changes.get(task.name, []))
        click.echo(f"update     {printable(task.name, keep_newlines=False)} ({fields})")
    for task in plan.prunes:
        click.echo(f"delete     {printable(task.name, keep_newlines=False)} (not in the file)")
    answer = plan.answer()
    counts = ", ".join(f"{len(answer[key])} {key}" for key in sync.RESULT_KEYS if key != "refused")
    click.echo(("dry run, nothing changed: " if dry_run else "") + counts)


def _refusals(plan: sync.Plan) -> None:
    for refusal in plan.refused:
        name = f" ({refusal['name']!r})" if refusal["name"] else ""
        field = f" [{refusal['field']}]" if refusal["field"] else ""
        click.echo(printable(f"refused    task at index {refusal['index']}{name}{field}: "
                             f"{refusal['message']}", keep_newlines=False), err=True)
    raise click.ClickException(f"{len(plan.refused)} task(s) refused; nothing was changed")


def _run_import(specs: list, dry_run: bool, prune: bool) -> None:
    try:
        plan = sync.plan_import(specs, prune=prune)
        if plan.refused:
            db.session.rollback()
            _refusals(plan)
        if not dry_run:
            sync.apply_import(plan, cli_actor())
        else:
            db.session.rollback()
    except ApiError as exc:
        fail(exc)
    _report(plan, dry_run)


@tasks_cli.command("export")
def tasks_export() -> None:
    """Print every task as YAML (redirect it to a file: tasks export > tasks.yaml)."""
    sys.stdout.write(sync.export_text())


@tasks_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--prune", is_flag=True, help="Also delete the tasks the file does not name.")
def tasks_import(file: str, dry_run: bool, prune: bool) -> None:
    """Make the tasks what FILE (YAML, as tasks export writes; - for stdin) says, in one
    transaction: all of it or, if any task is refused, nothing."""
    try:
        specs = yaml_io.load(_read(file))
    except ApiError as exc:
        fail(exc)
    _run_import(specs, dry_run, prune)


@tasks_cli.command("import-crontab")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--timezone", default="UTC", show_default=True,
              help="The tasks' timezone until a CRON_TZ= line sets another.")
def tasks_import_crontab(file: str, dry_run: bool, timezone: str) -> None:
    """Import a crontab (crontab -l): each job line becomes a shell task with its cron
    expression, named cron-<slug of the command>; comments, blank and environment lines
    are skipped and reported. Any bad line: nothing is imported."""
    try:
        table = crontab.parse(_read(file), timezone)
    except ApiError as exc:
        fail(exc)
    said = [(number, f"skipped, {why}") for number, why in table.skipped]
    said += [(number, f"{spec['name']} ({spec['schedule']['expr']}, {spec['timezone']})")
             for number, spec in zip(table.lines, table.tasks)]
    for number, text in sorted(said):
        click.echo(printable(f"line {number}: {text}", keep_newlines=False))
    if table.errors:
        for number, why in table.errors:
            click.echo(printable(f"line {number}: refused, {why}", keep_newlines=False), err=True)
        raise click.ClickException(f"{len(table.errors)} line(s) refused; nothing was imported")
    _run_import(table.tasks, dry_run, prune=False)
