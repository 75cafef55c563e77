"""Task create, update and delete: the service between the API/CLI and the database."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .errors import Conflict, NotFound
from .extensions import db
from .models import Task
from .schedules import next_fire
from .task_input import WRITABLE, clean_task
from .timeutil import utcnow


def get_task(task_id: int) -> Task:
    """The task with this id, or NotFound."""
    task = db.session.get(Task, task_id)
    if task is None:
        raise NotFound(f"no task with id {task_id}")
    return task


def list_tasks() -> list[Task]:
    """All tasks, by name."""
    return list(db.session.execute(select(Task).order_by(Task.name)).scalars())


def _apply(task: Task, fields: dict[str, Any]) -> None:
    schedule_changed = (
        fields["schedule"] != task.schedule or fields["timezone"] != task.timezone
    )
    for key, value in fields.items():
        setattr(task, key, value)
    if schedule_changed or task.next_run_at is None:
        task.next_run_at = next_fire(task.schedule, task.timezone, utcnow())


def _commit_unique(name: str) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"a task named {name!r} already exists", "name") from None


def create_task(data: Any) -> Task:
    """Validate and store a new task. Raises ValidationError or Conflict."""
    fields = clean_task(data)
    if db.session.execute(select(Task.id).where(Task.name == fields["name"])).first():
        raise Conflict(f"a task named {fields['name']!r} already exists", "name")
    task = Task()
    _apply(task, fields)
    db.session.add(task)
    _commit_unique(fields["name"])
    return task


def update_task(task_id: int, data: Any) -> Task:
    """Validate and apply a partial update. Raises NotFound, ValidationError or Conflict."""
    task = get_task(task_id)
    current = {key: getattr(task, key) for key in WRITABLE}
    fields = clean_task(data, existing=current)
    clash = db.session.execute(
        select(Task.id).where(Task.name == fields["name"], Task.id != task.id)
    ).first()
    if clash:
        raise Conflict(f"a task named {fields['name']!r} already exists", "name")
    _apply(task, fields)
    _commit_unique(fields["name"])
    return task


def delete_task(task_id: int) -> None:
    """Delete a task and its runs (its events stay in the log). Raises NotFound."""
    task = get_task(task_id)
    db.session.delete(task)
    db.session.commit()
