"""Misfire rule: what a due task does when the scheduler reaches it, late or on time.

A fire the scheduler reaches within ``on_time`` seconds of its instant is on time: the
normal tick lag, or a leader handover (lock TTL plus a tick), stays well inside 10 s.
Anything later was missed (every scheduler down, Redis or the database away, the global
pause lifted). Missed fires never make a burst; at most one run comes out of a tick:

* ``run_once`` (the default): one catch-up run for the latest missed fire, if that fire is
  no older than the grace time (``TASKPULSE_MISFIRE_GRACE``, default 300 s); after a
  longer downtime nothing runs until the next fire (a stale run is worse than none).
* ``skip``: missed fires are dropped; only an on-time fire runs.

Either way ``next_run_at`` moves to the first fire after now (interval schedules keep
their phase).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from webapp.core.timeutil import as_utc
from webapp.scheduling.cron import next_fire, next_fire_in_series

MISFIRE_POLICIES = ("run_once", "skip")
DEFAULT_MISFIRE = "run_once"
DEFAULT_GRACE_SECONDS = 300
ON_TIME_SECONDS = 10
# Enough for any cron inside any sane grace (one fire a minute for a week).
_MAX_STEPS = 20_000


@dataclass(frozen=True)
class FirePlan:
    """The outcome of one due task at one tick.

    Attributes:
        fire_at: the scheduled instant of the fire to run now, or None (nothing runs).
        next_run_at: the task's next fire after now, or None (the schedule is over).
        missed: True when a fire due before ``fire_at`` (or every due fire) is dropped.
    """

    fire_at: datetime | None
    next_run_at: datetime | None
    missed: bool


def plan_fire(schedule: dict | None, timezone: str, due_at: datetime, now: datetime, *,
              misfire: str = DEFAULT_MISFIRE, grace: float = DEFAULT_GRACE_SECONDS,
              on_time: float = ON_TIME_SECONDS) -> FirePlan:
    """Decide the fire of a task whose stored ``next_run_at`` (``due_at``) has come.

    ``due_at`` must be a fire of ``schedule`` (it was computed from it). Returns the
    latest fire in ``[due_at, now]`` that is recent enough for ``misfire`` (at most one),
    and the next fire after ``now``.
    """
    due_at, now = as_utc(due_at), as_utc(now)  # type: ignore[assignment]
    if due_at > now:
        return FirePlan(None, due_at, False)
    window = on_time if misfire == "skip" else max(grace, on_time)
    fire_at = _latest_fire(schedule, timezone, due_at, now, now - timedelta(seconds=window))
    next_run_at = next_fire_in_series(schedule, timezone, due_at, now)
    return FirePlan(fire_at, next_run_at, missed=fire_at != due_at)


def _latest_fire(schedule: dict | None, timezone: str, due_at: datetime, now: datetime,
                 oldest: datetime) -> datetime | None:
    """The latest fire of the series starting at ``due_at`` within ``[oldest, now]``."""
    if schedule and schedule["type"] == "interval":
        step = schedule["seconds"]
        latest = due_at + timedelta(seconds=int((now - due_at).total_seconds() // step) * step)
        return latest if latest >= oldest else None
    if due_at >= oldest:
        cursor: datetime | None = due_at
    else:
        cursor = next_fire(schedule, timezone, oldest - timedelta(microseconds=1))
        if cursor is None or cursor > now:
            return None
    for _ in range(_MAX_STEPS):
        following = next_fire(schedule, timezone, cursor)  # type: ignore[arg-type]
        if following is None or following > now:
            break
        cursor = following
    return cursor
