"""``flask --app wsgi runs ...``: list a task's runs; stop or cancel a run."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from webapp.access import audit
from webapp.cli.common import cli_actor, fail, find_task
from webapp.cli.terminal import printable
from webapp.core.errors import ApiError
from webapp.core.extensions import db
from webapp.core.queries import runs_of_task
from webapp.live import stats
from webapp.runs import dispatch

runs_cli = AppGroup("runs", help="List runs of a task; stop or cancel a run.")


@runs_cli.command("list")
@click.argument("task")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def runs_list(task: str, limit: int, as_json: bool) -> None:
    """List a task's runs (by task id or name), newest first, with its success rate."""

    found = find_task(task)
    rows = [r.to_dict() for r in runs_of_task(found.id, limit)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'RUN':>6}  {'STATUS':<9} {'TRIGGER':<8} {'TRY':<5} {'QUEUED':<20} {'DURATION':>10}  ERROR")
    for row in rows:
        duration = f"{row['duration_ms'] / 1000:.1f} s" if row["duration_ms"] is not None else "-"
        attempt = f"{row['attempt']}/{row['max_attempts']}"
        error = printable((row["error"] or "").splitlines()[0][:60], keep_newlines=False) if row["error"] else ""
        click.echo(f"{row['id']:>6}  {row['status']:<9} {row['trigger']:<8} {attempt:<5} "
                   f"{row['queued_at'] or '-':<20} {duration:>10}  {error}")
    summary = stats.task_stats(found.id, limit)
    if summary["success_rate"] is not None:
        click.echo(f"success rate over these runs: {summary['success_rate']:.0%}")


@runs_cli.command("stop")
@click.argument("run_id", type=int)
def runs_stop(run_id: int) -> None:
    """Stop a running run, or cancel a queued or retrying one."""
    try:
        result = dispatch.stop_run(run_id)
    except ApiError as exc:
        fail(exc)
    from webapp.core.models import TaskRun

    run = db.session.get(TaskRun, run_id)
    audit.log_run(cli_actor(), "stop", run.task_id if run else 0, run_id)
    if result["action"] == "cancel":
        click.echo(f"canceled run {run_id}")
    elif result["status"] == "stopped":
        click.echo(f"stopped run {run_id} (its worker was gone)")
    else:
        click.echo(f"stopping run {run_id} (job {result['job_id']}); it ends as 'stopped'")
