"""Retention: finished runs (their output goes with them) and events older than
``RETENTION_DAYS`` are deleted in small batches, and the event log never holds more
than ``EVENT_LOG_MAX`` rows.

Never deleted: active runs, each task's newest run (the page shows it), and the newest
event, so the head ``seq`` never goes down (ids are never reused: SQLite tables use
AUTOINCREMENT, PostgreSQL an identity). A client whose ``since`` is older than the
oldest kept event simply gets what is left; its snapshot fills in the rest.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, or_, select

from webapp.core.extensions import db
from webapp.core.models import TERMINAL_STATUSES, Event, TaskRun
from webapp.core.timeutil import utcnow

log = logging.getLogger(__name__)

BATCH = 500


@dataclass
class PruneResult:
    """What one prune deleted, and whether nothing is left to delete."""

    runs: int = 0
    events: int = 0
    done: bool = True


def _prune_runs(cutoff: datetime, batch: int) -> int:
    newest_per_task = select(func.max(TaskRun.id)).group_by(TaskRun.task_id)
    ids = list(db.session.execute(
        select(TaskRun.id)
        .where(
            TaskRun.status.in_(TERMINAL_STATUSES),
            or_(TaskRun.finished_at < cutoff,
                TaskRun.finished_at.is_(None) & (TaskRun.queued_at < cutoff)),
            TaskRun.id.not_in(newest_per_task),
        )
        .order_by(TaskRun.id).limit(batch)
    ).scalars())
    if ids:
        db.session.execute(delete(TaskRun).where(TaskRun.id.in_(ids)).execution_options(synchronize_session=False))
    db.session.commit()
    return len(ids)


def _prune_events(cutoff: datetime | None, max_events: int, batch: int) -> int:
    head = db.session.execute(select(func.max(Event.id))).scalar()
    if head is None:
        db.session.rollback()
        return 0
    conditions = []
    if cutoff is not None:
        conditions.append(Event.created_at < cutoff)
    if max_events > 0:
        conditions.append(Event.id <= head - max_events)
    if not conditions:
        db.session.rollback()
        return 0
    ids = list(db.session.execute(
        select(Event.id).where(Event.id < head, or_(*conditions)).order_by(Event.id).limit(batch)
    ).scalars())
    if ids:
        db.session.execute(delete(Event).where(Event.id.in_(ids)).execution_options(synchronize_session=False))
    db.session.commit()
    return len(ids)


def prune(now: datetime | None = None, days: float | None = None, max_events: int | None = None,
          batch: int = BATCH, time_budget: float | None = None) -> PruneResult:
    """Delete, batch by batch, runs and events past retention (``days`` 0: none by age)
    and events beyond ``max_events``. With ``time_budget`` (seconds) it stops after the
    batch that crosses it; ``done`` is then False if more is left.
    """
    config = current_app.config
    days = config["RETENTION_DAYS"] if days is None else days
    max_events = config["EVENT_LOG_MAX"] if max_events is None else max_events
    cutoff = (now or utcnow()) - timedelta(days=days) if days and days > 0 else None
    started = time.monotonic()
    result = PruneResult()
    while True:
        runs = _prune_runs(cutoff, batch) if cutoff is not None else 0
        events = _prune_events(cutoff, max_events, batch)
        result.runs += runs
        result.events += events
        if runs < batch and events < batch:
            result.done = True
            break
        if time_budget is not None and time.monotonic() - started >= time_budget:
            result.done = False
            break
    if result.runs or result.events:
        log.info("retention: pruned %d runs and %d events", result.runs, result.events)
    return result
