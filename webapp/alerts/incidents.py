"""Failure, recovery and success alerts, decided when a run's end has been committed
(``runs.state`` calls :func:`run_ended`): failure on the ``after_failures``-th failure
in a row (once per incident), recovery on the first success after an incident that
alerted, success on every success when asked for."""
from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import select

from webapp.alerts.outbox import Alert, add
from webapp.core.extensions import db
from webapp.core.models import Notification, Task, TaskRun
from webapp.runs.state import RunEnd

log = logging.getLogger(__name__)

# The runs that make or break a streak; stopped, canceled and skipped runs do neither.
COUNTED = ("success", "failed")
# How far back a recovery looks for the incident's failures.
STREAK_SCAN = 1000


def run_ended(end: RunEnd) -> None:
    """Write the alerts a run's end calls for (after its state change committed)."""
    status, run_id, notify = end.status, end.run_id, end.notify
    if status not in COUNTED or not notify or not notify.get("channels"):
        return
    run = db.session.get(TaskRun, run_id)
    task = db.session.get(Task, end.task_id)
    if run is None or task is None:
        db.session.rollback()
        return
    wanted = set(notify.get("on") or ())
    alerts = []
    if status == "failed" and "failure" in wanted:
        after = int(notify.get("after_failures") or 1)
        if failure_streak(task.id, run.id, after + 1) == after:
            alerts.append(_message(task, run, "failure", f"failed ({after} in a row)" if after > 1 else "failed"))
    if status == "success":
        if "recovery" in wanted and _incident_alerted(task.id, run.id):
            alerts.append(_message(task, run, "recovery", "recovered"))
        if "success" in wanted:
            alerts.append(_message(task, run, "success", "succeeded"))
    channels = list(notify["channels"])
    db.session.rollback()
    for alert in alerts:
        rows = add(alert, channels)
        log.info("run %s: %s alert written to %d channel(s)", run_id, alert.kind, len(rows))


def _recent_counted(task_id: int, run_id: int | None, limit: int) -> list[tuple[int, str]]:
    """(id, status) of the task's counted runs up to ``run_id`` (None: all), newest first."""
    query = select(TaskRun.id, TaskRun.status).where(TaskRun.task_id == task_id, TaskRun.status.in_(COUNTED))
    if run_id is not None:
        query = query.where(TaskRun.id <= run_id)
    return list(db.session.execute(query.order_by(TaskRun.id.desc()).limit(limit)).all())


def failure_streak(task_id: int, run_id: int | None, limit: int) -> int:
    """How many failures in a row end at ``run_id`` (None: the latest counted run),
    counted up to ``limit``."""
    streak = 0
    for _, status in _recent_counted(task_id, run_id, limit):
        if status != "failed":
            break
        streak += 1
    return streak


def _incident_alerted(task_id: int, run_id: int) -> bool:
    """True when the failures just before this success sent a failure alert."""
    failed = []
    for rid, status in _recent_counted(task_id, run_id, STREAK_SCAN)[1:]:
        if status != "failed":
            break
        failed.append(rid)
    if not failed:
        return False
    return db.session.execute(select(Notification.id).where(
        Notification.task_id == task_id, Notification.kind == "failure",
        Notification.run_id.in_(failed)).limit(1)).first() is not None


def page_link(path: str) -> str:
    """A page's address (absolute with ``TASKPULSE_BASE_URL``)."""
    return f"{current_app.config.get('BASE_URL', '')}{path}"


def run_link(run_id: int) -> str:
    """The run page's address."""
    return page_link(f"/runs/{run_id}")


def _message(task: Task, run: TaskRun, kind: str, what: str) -> Alert:
    """The alert's title (task and what happened) and body (run, status, error,
    duration, attempt, link)."""
    duration = f"{run.duration_ms / 1000:.1f} s" if run.duration_ms is not None else "-"
    lines = [
        f"Run: {run.id} ({run.trigger})",
        f"Status: {run.status}",
        f"Attempt: {run.attempt} of {run.max_attempts}",
        f"Duration: {duration}",
    ]
    if run.error:
        lines.append(f"Error: {run.error[:500]}")
    lines.append(f"Run page: {run_link(run.id)}")
    return Alert(kind=kind, title=f"Taskpulse: {task.name} {what}", body="\n".join(lines),
                 task_id=task.id, run_id=run.id, key=f"{kind}:run:{run.id}")
