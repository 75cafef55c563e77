"""The figures behind ``/metrics``, read from small tables: the run rollup
(``webapp.runs.rollup``: one row per task, status and trigger, and one per histogram
bucket, kept in step with the runs in the transactions that change them), the active
runs (few, through the status index), the tasks and the alerts outbox. A scrape costs
the same with a thousand runs or a million."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import accumulate

from sqlalchemy import func, select

from webapp.core.extensions import db
from webapp.core.models import ACTIVE_STATUSES, Notification, RunCount, RunHistogram, Task, TaskRun
from webapp.core.timeutil import utcnow
from webapp.runs.rollup import DURATION_BUCKETS, INF, METRICS, WAIT_BUCKETS, le_label
from webapp.scheduling.cron import next_fire

__all__ = ["DURATION_BUCKETS", "WAIT_BUCKETS", "Figures", "Histogram", "figures"]
# Notifications whose delivery has ended (pending ones are not counted yet: a counter
# never goes down, and a pending row becomes sent or failed).
ENDED_NOTIFICATIONS = ("sent", "failed")


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
    notifications: list[tuple[str, str, int]] = field(default_factory=list)  # channel, status, n


def _position(le: str, bounds: tuple[float, ...]) -> int:
    """The index among ``bounds`` (``len(bounds)``: +Inf) of a stored ``le``. One that is
    no bound today (the bounds changed since it was stored) counts in the next bound up,
    which still holds every value it held."""
    value = math.inf if le == INF else float(le)
    return next((i for i, bound in enumerate(bounds) if value <= bound), len(bounds))


def _histograms(rows: list, names: dict[int, str]) -> dict[tuple[str, str], Histogram]:
    """Cumulative histograms by (task name, metric) from rollup bucket rows (some 20,000
    rows at 500 tasks: one dict lookup each, then one running sum per histogram)."""
    positions = {metric: {le_label(b): i for i, b in enumerate(bounds)} | {INF: len(bounds)}
                 for metric, bounds in METRICS.items()}
    per_bucket: dict[tuple[str, str], list[int]] = {}
    totals: dict[tuple[str, str], float] = {}
    for task_id, metric, le, n, total in rows:
        name, where = names.get(task_id), positions.get(metric)
        if name is None or where is None:
            continue
        key = (name, metric)
        counts = per_bucket.get(key)
        if counts is None:
            counts = per_bucket[key] = [0] * (len(METRICS[metric]) + 1)
            totals[key] = 0.0
        i = where.get(le)
        counts[i if i is not None else _position(le, METRICS[metric])] += n
        totals[key] += total
    out = {}
    for key, counts in per_bucket.items():
        cumulative = list(accumulate(counts))
        out[key] = Histogram(cumulative[:-1], cumulative[-1], totals[key])
    return out


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
    """Every database-derived figure of a scrape, in a handful of small queries."""
    names = task_names()
    out = Figures()
    last = {"success": out.last_success, "failed": out.last_failure}
    for task_id, status, trigger, n, at in db.session.execute(
        select(RunCount.task_id, RunCount.status, RunCount.trigger, RunCount.runs, RunCount.last_finished)
    ).all():
        if task_id not in names:
            continue
        out.runs.append((names[task_id], status, trigger, n))
        if status in last and at is not None:
            target = last[status]
            target[names[task_id]] = max(at, target.get(names[task_id], at))
    hists = _histograms(db.session.execute(select(
        RunHistogram.task_id, RunHistogram.metric, RunHistogram.le, RunHistogram.observations,
        RunHistogram.total)).all(), names)
    lag = Histogram([0] * len(WAIT_BUCKETS), 0, 0.0)
    for (task, metric), h in hists.items():
        if metric == "duration":
            out.durations[task] = h
        elif metric == "queue_wait":
            out.queue_waits[task] = h
        else:  # schedule lag is one histogram for the installation
            lag = Histogram([a + b for a, b in zip(lag.buckets, h.buckets)], lag.count + h.count,
                            lag.total + h.total)
    out.schedule_lag = lag
    for status, n in db.session.execute(
        select(TaskRun.status, func.count()).where(TaskRun.status.in_(ACTIVE_STATUSES))
        .group_by(TaskRun.status)
    ).all():
        out.active[status] = n
    out.notifications = [tuple(row) for row in db.session.execute(
        select(Notification.channel, Notification.status, func.count())
        .where(Notification.status.in_(ENDED_NOTIFICATIONS), Notification.held.is_(False))
        .group_by(Notification.channel, Notification.status)
    ).all()]
    out.intervals = schedule_intervals()
    db.session.rollback()  # read-only: end the transaction, free the connection
    return out
