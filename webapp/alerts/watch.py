"""What the watchdog sees: which tasks are late, which runs overrun, which tasks are in a
failure incident. Read-only: deciding, not writing (``watchdog`` writes the alerts).

Late follows healthchecks.io's grace-time model from Taskpulse's own knowledge of each
expected fire: a task's ``next_run_at`` that passed ``late_after`` seconds ago without a
fire (the scheduler is down), or a scheduled run still queued ``late_after`` seconds
after it was queued (no worker on its queue, a backlog). Overrun is Rundeck's "longer
than usual": ``max_runtime``, or twice the p95 of the last successful durations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from webapp.alerts.incidents import failure_streak
from webapp.core.extensions import db
from webapp.core.models import Task, TaskRun
from webapp.core.timeutil import as_utc

# Overrun without a max_runtime: twice the p95 of the last HISTORY successes, once there
# are at least HISTORY_NEEDED of them (fewer say too little about "usual").
HISTORY = 20
HISTORY_NEEDED = 10
OVERRUN_FACTOR = 2.0

BADGE_FAILING, BADGE_LATE, BADGE_OVERRUNNING = "failing", "late", "overrunning"


@dataclass(frozen=True)
class Late:
    """A task whose expected start has not come ``late_after`` seconds after it was due."""

    task: Task
    due: datetime          # when the run should have started
    since_start: datetime | None  # the task's last run start: one late alert per gap


@dataclass(frozen=True)
class Overrun:
    """A run still running past its task's limit (``limit`` seconds)."""

    task: Task
    run: TaskRun
    limit: float


def watched_tasks() -> list[Task]:
    """Every task with a ``notify`` that names a channel."""
    tasks = db.session.execute(select(Task).where(Task.notify.is_not(None))).scalars()
    return [t for t in tasks if isinstance(t.notify, dict) and t.notify.get("channels")]


def _wants(task: Task, kind: str) -> bool:
    return kind in (task.notify.get("on") or ())


def _last_start(task_id: int) -> datetime | None:
    value = db.session.execute(select(func.max(TaskRun.started_at)).where(TaskRun.task_id == task_id)).scalar()
    return as_utc(value) if value is not None else None


def late(task: Task, now: datetime, paused: bool, upcoming: list[datetime] | None = None) -> Late | None:
    """Whether ``task`` is late now (never while the scheduler is paused on purpose, for a
    disabled task, or one without a schedule). The instant it would become late, if
    later, is added to ``upcoming``."""
    if paused or not task.enabled or not task.schedule:
        return None
    grace = timedelta(seconds=int(task.notify.get("late_after", 60) or 0))
    due = as_utc(task.next_run_at) if task.next_run_at is not None else None
    if due is not None and due + grace > now:
        if upcoming is not None:
            upcoming.append(due + grace)
        due = None  # not due yet, or still in its grace time
    waiting = db.session.execute(
        select(func.min(TaskRun.queued_at)).where(
            TaskRun.task_id == task.id, TaskRun.trigger == "schedule", TaskRun.status == "queued",
            TaskRun.held.is_(False), TaskRun.started_at.is_(None))).scalar()
    if waiting is not None and as_utc(waiting) + grace <= now:
        due = min(due, as_utc(waiting)) if due is not None else as_utc(waiting)
    elif waiting is not None and upcoming is not None:
        upcoming.append(as_utc(waiting) + grace)
    if due is None:
        return None
    return Late(task=task, due=due, since_start=_last_start(task.id))


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank) of ``values`` (not empty)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def overrun_limit(task: Task) -> float | None:
    """Seconds a run of ``task`` may take before it overruns, or None (not known yet)."""
    explicit = task.notify.get("max_runtime")
    if explicit:
        return float(explicit)
    durations = list(db.session.execute(
        select(TaskRun.duration_ms).where(TaskRun.task_id == task.id, TaskRun.status == "success",
                                          TaskRun.duration_ms.is_not(None))
        .order_by(TaskRun.id.desc()).limit(HISTORY)).scalars())
    if len(durations) < HISTORY_NEEDED:
        return None
    return OVERRUN_FACTOR * p95([d / 1000 for d in durations])


def overruns(task: Task, now: datetime, upcoming: list[datetime] | None = None) -> list[Overrun]:
    """The task's running runs past its limit (the instants the others reach it are
    added to ``upcoming``)."""
    running = list(db.session.execute(
        select(TaskRun).where(TaskRun.task_id == task.id, TaskRun.status == "running",
                              TaskRun.started_at.is_not(None))).scalars())
    if not running:
        return []
    limit = overrun_limit(task)
    if limit is None:
        return []
    over = []
    for run in running:
        reaches = as_utc(run.started_at) + timedelta(seconds=limit)
        if reaches < now:
            over.append(Overrun(task=task, run=run, limit=limit))
        elif upcoming is not None:
            upcoming.append(reaches)
    return over


def failing(task: Task) -> bool:
    """True while the task's last ``after_failures`` counted runs all failed."""
    if task.last_status != "failed":
        return False
    after = int(task.notify.get("after_failures") or 1)
    return failure_streak(task.id, None, after) >= after


def badges(now: datetime, paused: bool, upcoming: list[datetime] | None = None,
           ) -> tuple[dict[int, str], list[Late], list[Overrun]]:
    """Each watched task's badge (only for the alerts its ``notify`` asks for), and the
    late tasks and overrunning runs behind them; ``upcoming`` collects the instants at
    which a task would become late or a run overrun (so the watchdog wakes then)."""
    marks: dict[int, str] = {}
    lates: list[Late] = []
    overrunning: list[Overrun] = []
    for task in watched_tasks():
        if _wants(task, "overrun"):
            found = overruns(task, now, upcoming)
            overrunning += found
            if found:
                marks[task.id] = BADGE_OVERRUNNING
        if _wants(task, "late"):
            is_late = late(task, now, paused, upcoming)
            if is_late is not None:
                lates.append(is_late)
                marks.setdefault(task.id, BADGE_LATE)
        if _wants(task, "failure") and task.id not in marks and failing(task):
            marks[task.id] = BADGE_FAILING
    return marks, lates, overrunning
