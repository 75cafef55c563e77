"""The scheduler page's panels in one read: running jobs with their progress, recent
activity, and statistics. Sent in the ``subscribe`` ack of room ``tasks`` with
``{"snapshot": true}`` (key ``panels``) and by ``GET /api/panels``; the page keeps them
current from ``task_update`` events (docs/protocol.md says how)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, func, select

from webapp.core.extensions import db
from webapp.core.models import ACTIVE_STATUSES, Event, Task, TaskRun
from webapp.core.timeutil import iso, utcnow
from webapp.live.names import TASK_UPDATE

RECENT_EVENTS = 20
SCAN_EVENTS = 200  # newest events looked at to find RECENT_EVENTS that are not progress


def is_progress_update(payload: dict[str, Any]) -> bool:
    """A ``task_update`` that reports progress of a running run (no status change)."""
    return payload.get("status") == "running" and payload.get("progress") is not None


def running_runs() -> list[dict[str, Any]]:
    """Active runs (queued, running, retrying), oldest first, with task name and progress."""
    rows = db.session.execute(
        select(TaskRun, Task.name).join(Task, Task.id == TaskRun.task_id)
        .where(TaskRun.status.in_(ACTIVE_STATUSES)).order_by(TaskRun.id)
    ).all()
    return [dict(run.to_dict(), task_name=name) for run, name in rows]


def recent_activity(limit: int = RECENT_EVENTS) -> list[dict[str, Any]]:
    """The newest ``task_update`` events that changed a status, newest first."""
    rows = db.session.execute(
        select(Event.payload).where(Event.name == TASK_UPDATE)
        .order_by(Event.id.desc()).limit(SCAN_EVENTS)
    ).scalars()
    sent_at = iso(utcnow(), millis=True)
    picked = [dict(p, emitted_at=sent_at) for p in rows if not is_progress_update(p)]
    return picked[:limit]


RATED = ("success", "failed", "stopped")  # the runs the 24-hour counts are made of


def _minute_of(column: Any) -> Any:
    """The Unix minute (seconds // 60) of a timestamp column, in the database's dialect."""
    if db.engine.dialect.name == "postgresql":
        return func.floor(func.extract("epoch", column) / 60)
    return func.cast(func.strftime("%s", column), Integer) / 60


def ended_by_minute(since: datetime) -> list[list[int]]:
    """``[minute start (Unix seconds), success, failed, stopped]`` for each minute since
    ``since`` in which a run ended (at most 1,440 rows for a day), oldest first."""
    minute = _minute_of(TaskRun.finished_at).label("minute")
    rows = db.session.execute(
        select(minute, TaskRun.status, func.count(TaskRun.id))
        .where(TaskRun.finished_at >= since, TaskRun.status.in_(RATED))
        .group_by(minute, TaskRun.status)
    ).all()
    buckets: dict[int, list[int]] = {}
    for at, status, count in rows:
        start = int(at) * 60
        buckets.setdefault(start, [start, 0, 0, 0])[1 + RATED.index(status)] += int(count)
    return [buckets[k] for k in sorted(buckets)]


def statistics(now: datetime | None = None) -> dict[str, Any]:
    """Counts for the statistics panel: ``tasks``, ``enabled``, ``queued``, ``running``,
    ``retrying``, and ``failed_24h``/``success_24h``/``finished_24h`` (runs that ended
    in the last 24 hours), with ``since``, the start of that window."""
    now = now or utcnow()
    since = now - timedelta(hours=24)
    tasks, enabled = db.session.execute(
        select(func.count(Task.id), func.count(Task.id).filter(Task.enabled.is_(True)))
    ).one()
    active = dict(db.session.execute(
        select(TaskRun.status, func.count(TaskRun.id))
        .where(TaskRun.status.in_(ACTIVE_STATUSES)).group_by(TaskRun.status)
    ).all())
    minutes = ended_by_minute(since)
    ended = {status: sum(m[1 + RATED.index(status)] for m in minutes) for status in RATED}
    return {
        "tasks": tasks,
        "enabled": enabled,
        "queued": active.get("queued", 0),
        "running": active.get("running", 0),
        "retrying": active.get("retrying", 0),
        "failed_24h": ended.get("failed", 0),
        "success_24h": ended.get("success", 0),
        "finished_24h": sum(ended.values()),
        "since": iso(since),
        # So the page ages the 24-hour counts out itself, with no timer asking the
        # server: [minute start (Unix seconds), success, failed, stopped] per minute.
        "ended_by_minute": minutes,
    }


def panels() -> dict[str, Any]:
    """``{"running": [run + task_name], "recent": [task_update], "stats": {...}}``."""
    return {"running": running_runs(), "recent": recent_activity(), "stats": statistics()}
