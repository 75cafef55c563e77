"""The aggregate queries behind ``/metrics``: every figure is a GROUP BY in the
database, never a loop over runs in Python, so a scrape costs the same with a thousand
runs or a million (the indexes of migration 0004 serve them)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.sql.elements import ColumnElement

from webapp.core.extensions import db
from webapp.core.models import ACTIVE_STATUSES, TERMINAL_STATUSES, Task, TaskRun
from webapp.core.timeutil import as_utc, utcnow
from webapp.scheduling.cron import next_fire

# Bucket upper bounds in seconds. Runs last from a second to hours; a queue wait and a
# schedule lag are normally well under a second, and minutes when something is wrong.
DURATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)


@dataclass
class Histogram:
    """Cumulative bucket counts (one per bound, then +Inf = ``count``) and the sum."""

    buckets: list[int]
    count: int
    total: float


@dataclass
class Figures:
    """What one scrape reports from the database, by task name where per task."""

    runs: list[tuple[str, str, str, int]] = field(default_factory=list)  # task, status, trigger, n
    durations: dict[str, Histogram] = field(default_factory=dict)
    queue_waits: dict[str, Histogram] = field(default_factory=dict)
    schedule_lag: Histogram | None = None
    last_success: dict[str, float] = field(default_factory=dict)
    last_failure: dict[str, float] = field(default_factory=dict)
    active: dict[str, int] = field(default_factory=dict)
    intervals: dict[str, float] = field(default_factory=dict)


def seconds_between(start: Any, end: Any) -> ColumnElement:
    """``end - start`` in seconds, in the dialect of the bound database."""
    if db.engine.dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    # SQLite keeps datetimes as ISO text; julianday reads it as fractions of a day,
    # rounded to the millisecond so that 10 s is 10 s and not 10.0000001 (a bucket bound).
    return func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3)


def _histogram_columns(value: ColumnElement, bounds: tuple[float, ...]) -> list[ColumnElement]:
    """One SUM(CASE) per bucket, then the count and the sum of ``value``."""
    columns = [func.sum(case((value <= bound, 1), else_=0)) for bound in bounds]
    return columns + [func.count(value), func.coalesce(func.sum(value), 0.0)]


def _histogram(row: Any, bounds: tuple[float, ...]) -> Histogram:
    values = list(row[-len(bounds) - 2:])
    return Histogram([int(v or 0) for v in values[:len(bounds)]], int(values[-2] or 0),
                     float(values[-1] or 0.0))


def _timestamp(value: datetime | str | None) -> float | None:
    """A MAX() of a datetime column as Unix seconds (SQLite answers it as text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    value = as_utc(value)
    return value.timestamp() if value is not None else None


@lru_cache(maxsize=4096)
def _interval(schedule_json: str, timezone: str, hour: datetime) -> float | None:
    """Seconds between the next two fires of a schedule after ``hour`` (memoised per
    schedule and hour: the alert on a task's last success needs its rhythm, not the
    exact instant)."""
    try:
        schedule = json.loads(schedule_json)
        first = next_fire(schedule, timezone, hour)
        second = next_fire(schedule, timezone, first) if first else None
    except Exception:  # a schedule the scheduler cannot read has no rhythm to report
        return None
    return (second - first).total_seconds() if first and second else None


def schedule_intervals() -> dict[str, float]:
    """Enabled scheduled tasks' time between fires, by name."""
    hour = utcnow().replace(minute=0, second=0, microsecond=0)
    found = {}
    for name, schedule, timezone in db.session.execute(
        select(Task.name, Task.schedule, Task.timezone).where(Task.enabled.is_(True))
    ).all():
        if schedule:
            interval = _interval(json.dumps(schedule, sort_keys=True), timezone, hour)
            if interval:
                found[name] = interval
    return found


def task_names() -> dict[int, str]:
    """Task id to name (500 rows at most in practice: one small query)."""
    return dict(db.session.execute(select(Task.id, Task.name)).all())


def figures() -> Figures:
    """Every database-derived figure of a scrape, in a handful of aggregate queries."""
    names = task_names()
    out = Figures()
    rows = db.session.execute(
        select(TaskRun.task_id, TaskRun.status, TaskRun.trigger, func.count())
        .group_by(TaskRun.task_id, TaskRun.status, TaskRun.trigger)
    ).all()
    out.runs = [(names[t], s, trig, n) for t, s, trig, n in rows if t in names]
    for status, n in db.session.execute(
        select(TaskRun.status, func.count()).where(TaskRun.status.in_(ACTIVE_STATUSES))
        .group_by(TaskRun.status)
    ).all():
        out.active[status] = n

    ran = (TaskRun.status.in_(TERMINAL_STATUSES), TaskRun.started_at.is_not(None))
    duration = seconds_between(TaskRun.started_at, TaskRun.finished_at)
    for row in db.session.execute(
        select(TaskRun.task_id, *_histogram_columns(duration, DURATION_BUCKETS))
        .where(*ran, TaskRun.finished_at.is_not(None)).group_by(TaskRun.task_id)
    ).all():
        if row[0] in names:
            out.durations[names[row[0]]] = _histogram(row, DURATION_BUCKETS)
    # Queue wait: every run that started, whatever it then did (running ones too).
    wait = seconds_between(TaskRun.queued_at, TaskRun.started_at)
    for row in db.session.execute(
        select(TaskRun.task_id, *_histogram_columns(wait, WAIT_BUCKETS))
        .where(TaskRun.started_at.is_not(None)).group_by(TaskRun.task_id)
    ).all():
        if row[0] in names:
            out.queue_waits[names[row[0]]] = _histogram(row, WAIT_BUCKETS)
    lag = seconds_between(TaskRun.scheduled_for, TaskRun.started_at)
    row = db.session.execute(
        select(*_histogram_columns(lag, WAIT_BUCKETS))
        .where(TaskRun.scheduled_for.is_not(None), TaskRun.started_at.is_not(None))
    ).one()
    out.schedule_lag = _histogram(row, WAIT_BUCKETS)

    for status, target in (("success", out.last_success), ("failed", out.last_failure)):
        for task_id, at in db.session.execute(
            select(TaskRun.task_id, func.max(TaskRun.finished_at))
            .where(TaskRun.status == status).group_by(TaskRun.task_id)
        ).all():
            stamp = _timestamp(at)
            if task_id in names and stamp is not None:
                target[names[task_id]] = stamp
    out.intervals = schedule_intervals()
    db.session.rollback()  # read-only: end the transaction, free the connection
    return out
