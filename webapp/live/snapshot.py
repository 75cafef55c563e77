"""The current state of tasks as the page renders them: each task with its latest run."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from webapp.core.extensions import db
from webapp.core.models import Task, TaskRun


def task_rows(task_id: int | None = None) -> list[dict[str, Any]]:
    """Tasks (all, or one) as API dicts plus ``last_run``: their newest run or None."""
    query = select(Task).order_by(Task.name)
    if task_id is not None:
        query = query.where(Task.id == task_id)
    tasks = list(db.session.execute(query).scalars())
    newest = (
        select(func.max(TaskRun.id))
        .where(TaskRun.task_id.in_([t.id for t in tasks]))
        .group_by(TaskRun.task_id)
    )
    runs = {
        run.task_id: run
        for run in db.session.execute(select(TaskRun).where(TaskRun.id.in_(newest))).scalars()
    }
    rows = []
    for task in tasks:
        row = task.to_dict()
        run = runs.get(task.id)
        row["last_run"] = run.to_dict() if run else None
        rows.append(row)
    return rows
