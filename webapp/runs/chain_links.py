"""A run's place in a chain, as its page shows it: the run whose end started it and
the runs its own end started (newest runs of a chain link both ways by
``parent_run_id``)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from webapp.core.extensions import db
from webapp.core.models import Task, TaskRun

MAX_CHILDREN = 50  # a run's end starts at most 20 tasks (MAX_THEN); this bounds the page


def _link(run: TaskRun, task_name: str) -> dict[str, Any]:
    return {"run_id": run.id, "task_id": run.task_id, "task_name": task_name, "status": run.status,
            "attempt": run.attempt}


def parent_of(run: TaskRun) -> dict[str, Any] | None:
    """The run whose end started ``run`` (trigger chain), or None (also when it is gone)."""
    if run.parent_run_id is None:
        return None
    row = db.session.execute(
        select(TaskRun, Task.name).join(Task, Task.id == TaskRun.task_id).where(TaskRun.id == run.parent_run_id)
    ).first()
    return _link(*row) if row else None


def children_of(run_id: int) -> list[dict[str, Any]]:
    """The runs that ``run_id``'s end started, oldest first."""
    rows = db.session.execute(
        select(TaskRun, Task.name).join(Task, Task.id == TaskRun.task_id)
        .where(TaskRun.parent_run_id == run_id).order_by(TaskRun.id).limit(MAX_CHILDREN)
    ).all()
    return [_link(run, name) for run, name in rows]
