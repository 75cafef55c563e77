"""The read queries several rooms share, written once: a task's runs newest first (API,
CLI, pages, statistics) and a task's active runs (dispatch, the scheduler's overlap rule)."""
from __future__ import annotations

from sqlalchemy import select

from webapp.core.extensions import db
from webapp.core.models import ACTIVE_STATUSES, TaskRun


def runs_of_task(task_id: int, limit: int, before: int | None = None) -> list[TaskRun]:
    """The task's runs, newest first, at most ``limit``; with ``before``, only runs whose
    id is lower (the next page)."""
    query = select(TaskRun).where(TaskRun.task_id == task_id)
    if before is not None:
        query = query.where(TaskRun.id < before)
    return list(db.session.execute(query.order_by(TaskRun.id.desc()).limit(limit)).scalars())


def active_runs(task_id: int) -> list[TaskRun]:
    """The task's queued, running or retrying runs, oldest first."""
    return list(db.session.execute(
        select(TaskRun).where(TaskRun.task_id == task_id, TaskRun.status.in_(ACTIVE_STATUSES))
        .order_by(TaskRun.id)
    ).scalars())
