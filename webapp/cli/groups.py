"""``flask --app wsgi ...`` commands: one group per concern (db, tasks, events, runs,
scheduler; users in :mod:`webapp.cli.users`)."""
from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from webapp.access import audit, users
from webapp.cli.common import cli_actor, fail
from webapp.cli.seed import EXAMPLE_TASKS
from webapp.cli.terminal import printable
from webapp.cli.users import users_cli
from webapp.core import instance_files, schema
from webapp.core.errors import ApiError
from webapp.core.extensions import db
from webapp.live import events, stats
from webapp.runs import dispatch, retention
from webapp.scheduling import pause as scheduler_state
from webapp.tasks import store as tasks

db_cli = AppGroup("db", help="Database schema.")
tasks_cli = AppGroup("tasks", help="List, create and run tasks.")
events_cli = AppGroup("events", help="Watch the live event stream.")
scheduler_cli = AppGroup("scheduler", help="The global pause of scheduled fires.")
runs_cli = AppGroup("runs", help="List runs of a task; stop or cancel a run.")


# The first release's private names for them, used throughout this module.
_cli_actor, _fail = cli_actor, fail


@db_cli.command("upgrade")
@click.option("--seed/--no-seed", default=False, help="Add the example tasks to an empty database.")
def db_upgrade(seed: bool) -> None:
    """Create or upgrade the schema to the newest revision (idempotent); make the first
    admin user; optionally seed example tasks."""
    # Made here, before SQLite would make it world-readable (0644 under the usual umask).
    instance_files.private_sqlite_file(db.engine.url)
    before, after = schema.upgrade()
    click.echo(f"database schema at revision {after}" +
               (f" (was {before})" if before != after else " (already up to date)"))
    generated = users.ensure_admin(current_app.config["ADMIN_PASSWORD"])
    if generated:
        click.echo(f"created user 'admin' with password: {generated}  (shown once; "
                   "set ADMIN_PASSWORD before the first run to choose it)")
    if seed and not tasks.list_tasks():
        for spec in EXAMPLE_TASKS:
            tasks.create_task(spec, actor="setup")
        click.echo(f"seeded {len(EXAMPLE_TASKS)} example tasks")


# The first release's command; scripts written for it keep working.
db_cli.add_command(click.Command("create", callback=db_upgrade.callback, params=db_upgrade.params,
                                 help="Same as `db upgrade` (the first release's name).",
                                 hidden=True))


@db_cli.command("current")
def db_current() -> None:
    """Print the schema revision the database is at."""
    click.echo(schema.current_revision() or "none (run `db upgrade`)")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Take the schema back to REVISION (e.g. 0001), to return to an older release."""
    schema.downgrade(revision)
    click.echo(f"database schema at revision {schema.current_revision()}")


@tasks_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def tasks_list(as_json: bool) -> None:
    """List tasks with their last status."""
    rows = [t.to_dict() for t in tasks.list_tasks()]
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
@click.option("--timeout", type=int, default=300, show_default=True)
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
        task = tasks.create_task(spec, actor=_cli_actor())
    except ApiError as exc:
        _fail(exc)
    click.echo(f"created task {task.id}: {task.name}")


@tasks_cli.command("run")
@click.argument("task")
def tasks_run(task: str) -> None:
    """Run a task now (by id or name), as the page's Run Now does."""
    found = next((t for t in tasks.list_tasks() if str(t.id) == task or t.name == task), None)
    if found is None:
        raise click.ClickException(f"no task with id or name {task!r}")
    try:
        result = dispatch.dispatch(found.id, "manual")
    except ApiError as exc:
        _fail(exc)
    audit.log_run(_cli_actor(), "run", found.id, result["run_id"])
    if result["status"] == "failed":  # refused by a switch: the run exists, ended failed
        raise click.ClickException(f"run {result['run_id']} failed: {result['error']}")
    click.echo(f"queued run {result['run_id']} as job {result['job_id']}")


def _format_event(event: dict[str, Any]) -> str:
    parts = [
        f"#{event['seq']}",
        str(event.get("emitted_at") or ""),
        f"task {event['task_id']} {event['task_name']!r}",
        f"run {event['run_id']}",
        str(event["status"]),
    ]
    if event.get("duration_ms") is not None:
        parts.append(f"{event['duration_ms']} ms")
    if event.get("error"):
        parts.append(f"error: {event['error']}")
    # A run's error is whatever its command printed: one line per event, and no escape
    # sequence reaches the terminal.
    return printable("  ".join(parts), keep_newlines=False)


@events_cli.command("watch")
@click.option("--url", default=lambda: f"http://127.0.0.1:{os.environ.get('PORT', '5000')}",
              show_default="http://127.0.0.1:$PORT", help="The Taskpulse server.")
@click.option("--room", default="tasks", show_default=True, help="'tasks' or 'task:<id>'.")
@click.option("--since", type=int, default=None, help="Replay events after this seq first.")
@click.option("--json", "as_json", is_flag=True, help="Print each event as one JSON line.")
@click.option("--count", type=int, default=0, help="Exit after this many events (0: never).")
@click.option("--token", envvar="TASKPULSE_TOKEN", help="Bearer token (or TASKPULSE_TOKEN).")
@click.option("--user", envvar="TASKPULSE_USER", help="User name for Basic auth (or TASKPULSE_USER).")
@click.option("--password", envvar="TASKPULSE_PASSWORD", help="Password (or TASKPULSE_PASSWORD).")
def events_watch(url: str, room: str, since: int | None, as_json: bool, count: int,
                 token: str | None, user: str | None, password: str | None) -> None:
    """Print task_update events live, as the scheduler page receives them."""
    import base64

    import socketio

    if token:
        headers = {"Authorization": f"Bearer {token}"}
    elif user and password is not None:
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}"}
    else:
        raise click.UsageError("give --token, or --user and --password (or their variables)")

    client = socketio.Client(reconnection=True)
    state = {"last": since, "seen": 0}
    done = threading.Event()

    def show(event: dict[str, Any]) -> None:
        if state["last"] is not None and event["seq"] <= state["last"]:
            return
        state["last"] = event["seq"]
        click.echo(json.dumps(event) if as_json else _format_event(event))
        sys.stdout.flush()
        state["seen"] += 1
        if count and state["seen"] >= count:
            done.set()

    @client.on("connect")
    def _connected() -> None:
        ack = client.call("subscribe", {"room": room, "since": state["last"]}, timeout=10)
        if not ack.get("ok"):
            click.echo(printable(f"subscribe refused: {ack.get('error')}"), err=True)
            done.set()
            return
        click.echo(f"# connected to {url}, room {room}, head seq {ack['head']}", err=True)
        if state["last"] is None:
            state["last"] = ack["head"]
        for event in ack["events"]:
            show(event)

    @client.on("disconnect")
    def _disconnected(*_: Any) -> None:
        if not done.is_set():
            click.echo("# disconnected, reconnecting...", err=True)

    refusal: list[str] = []

    @client.on("connect_error")
    def _refused(data: Any = None) -> None:
        refusal.append(data.get("message", str(data)) if isinstance(data, dict) else str(data))

    client.on("task_update", show)
    try:
        client.connect(url, headers=headers, wait_timeout=10)
    except socketio.exceptions.ConnectionError as exc:
        reason = refusal[0] if refusal else str(exc)
        raise click.ClickException(printable(f"cannot connect to {url}: {reason}")) from None
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        client.disconnect()


def _show_scheduler(status: dict[str, Any]) -> None:
    state = "paused" if status["paused"] else "running"
    since = f" since {status['since']}" if status.get("since") else ""
    by = f" by {status['by']}" if status.get("by") else ""
    click.echo(f"scheduler {state}{since}{by}; leader: {status.get('leader') or 'none'}")


@scheduler_cli.command("status")
def scheduler_status() -> None:
    """Show whether scheduled fires are paused, and which scheduler leads."""
    _show_scheduler(scheduler_state.scheduler_status())


@scheduler_cli.command("pause")
def scheduler_pause() -> None:
    """Pause scheduled fires everywhere (Run Now still works)."""
    status = scheduler_state.pause_scheduler(by=_cli_actor())
    events.publish_scheduler_state(status)
    _show_scheduler(status)


@scheduler_cli.command("resume")
def scheduler_resume() -> None:
    """Resume scheduled fires (fires passed while paused are not caught up)."""
    status = scheduler_state.resume_scheduler(by=_cli_actor())
    events.publish_scheduler_state(status)
    _show_scheduler(status)


@db_cli.command("prune")
@click.option("--days", type=float, default=None,
              help="Keep this many days (default: TASKPULSE_RETENTION_DAYS, 30; 0 keeps all by age).")
@click.option("--max-events", type=int, default=None,
              help="Keep at most this many events (default: TASKPULSE_EVENT_LOG_MAX).")
def db_prune(days: float | None, max_events: int | None) -> None:
    """Delete finished runs (with their output) and events past retention."""
    result = retention.prune(days=days, max_events=max_events)
    click.echo(f"pruned {result.runs} runs and {result.events} events")


def _find_task(task: str):
    found = next((t for t in tasks.list_tasks() if str(t.id) == task or t.name == task), None)
    if found is None:
        raise click.ClickException(f"no task with id or name {task!r}")
    return found


@runs_cli.command("list")
@click.argument("task")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def runs_list(task: str, limit: int, as_json: bool) -> None:
    """List a task's runs (by task id or name), newest first, with its success rate."""
    from webapp.core.models import TaskRun

    found = _find_task(task)
    rows = [r.to_dict() for r in db.session.execute(
        db.select(TaskRun).where(TaskRun.task_id == found.id).order_by(TaskRun.id.desc()).limit(limit)
    ).scalars()]
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
        _fail(exc)
    from webapp.core.models import TaskRun

    run = db.session.get(TaskRun, run_id)
    audit.log_run(_cli_actor(), "stop", run.task_id if run else 0, run_id)
    if result["action"] == "cancel":
        click.echo(f"canceled run {run_id}")
    elif result["status"] == "stopped":
        click.echo(f"stopped run {run_id} (its worker was gone)")
    else:
        click.echo(f"stopping run {run_id} (job {result['job_id']}); it ends as 'stopped'")


def register(app: Flask, under: str | None = None) -> None:
    """Add the command groups to the app's CLI: at the top level (standalone), or under
    one group named ``under`` (embedded: the host may have its own ``db`` or ``users``)."""
    groups = (scheduler_cli, users_cli, db_cli, tasks_cli, events_cli, runs_cli)
    if under is None:
        for group in groups:
            app.cli.add_command(group)
        return
    parent = AppGroup(under, help="Taskpulse: the live task scheduler mounted in this app.")
    for group in groups:
        parent.add_command(group)
    app.cli.add_command(parent)
