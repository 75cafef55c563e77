"""Task create, update and delete: the service between the API/CLI and the database."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.access import audit
from webapp.core.errors import Conflict, NotFound
from webapp.core.extensions import db
from webapp.core.models import AuditEntry, Task
from webapp.core.timeutil import utcnow
from webapp.live import events, snapshot
from webapp.scheduling.cron import next_fire
from webapp.tasks import links
from webapp.tasks.validation import WRITABLE, clean_task


def get_task(task_id: int) -> Task:
    """The task with this id, or NotFound."""
    task = db.session.get(Task, task_id)
    if task is None:
        raise NotFound(f"no task with id {task_id}")
    return task


def find_task(key: str) -> Task | None:
    """The task with this id (all digits) or else this name, or None."""
    if key.isdigit() and len(key) <= 18:
        task = db.session.get(Task, int(key))
        if task is not None:
            return task
    return db.session.execute(select(Task).where(Task.name == key)).scalar()


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


def create_task(data: Any, actor: str = "system") -> Task:
    """Validate and store a new task, audited as ``actor``. Raises ValidationError or Conflict."""
    fields = clean_task(data)
    if db.session.execute(select(Task.id).where(Task.name == fields["name"])).first():
        raise Conflict(f"a task named {fields['name']!r} already exists", "name")
    links.check_task_then(fields["name"], fields["then"])
    task = Task()
    _apply(task, fields)
    db.session.add(task)
    db.session.flush()
    entry = audit.record(actor, "create", "task", task.id, task.name, audit.diff({}, _editable(task)))
    _commit_unique(fields["name"])
    audit.publish(entry)
    _announce("created", task.id)
    return task


def update_task(task_id: int, data: Any, actor: str = "system") -> Task:
    """Validate and apply a partial update, audited as ``actor`` with a before/after diff.

    Raises NotFound, ValidationError or Conflict.
    """
    task = get_task(task_id)
    current = _editable(task)
    fields = clean_task(data, existing=current)
    clash = db.session.execute(
        select(Task.id).where(Task.name == fields["name"], Task.id != task.id)
    ).first()
    if clash:
        raise Conflict(f"a task named {fields['name']!r} already exists", "name")
    links.check_task_then(fields["name"], fields["then"], old_name=task.name)
    renamed = [] if fields["name"] == task.name else links.rename_references(task.name, fields["name"])
    _apply(task, fields)
    changes = audit.diff(current, _editable(task))
    entry = None
    if changes:
        action = "update"
        if set(changes) == {"enabled"}:
            action = "enable" if task.enabled else "disable"
        entry = audit.record(actor, action, "task", task.id, task.name, changes)
    _commit_unique(fields["name"])
    if entry is not None:
        audit.publish(entry)
        _announce("updated", task.id)
    for other in renamed:  # their "then" now names the task by its new name
        _announce("updated", other.id)
    return task


def delete_task(task_id: int, actor: str = "system") -> None:
    """Delete a task and its runs (its events stay in the log).

    Raises NotFound, or Conflict naming the tasks whose ``then`` starts this one.
    """
    task = get_task(task_id)
    links.refuse_delete_if_chained(task.name)
    entry = audit.record(actor, "delete", "task", task.id, task.name, audit.diff(_editable(task), {}))
    db.session.delete(task)
    db.session.commit()
    audit.publish(entry)
    _announce("deleted", task_id)


def _announce(action: str, task_id: int) -> None:
    """Publish ``task_changed`` with the task's row as pages render it."""
    rows = [] if action == "deleted" else snapshot.task_rows(task_id)
    events.publish_task_changed(action, task_id, rows[0] if rows else None)


def _editable(task: Task) -> dict[str, Any]:
    return {key: getattr(task, key) for key in WRITABLE}


# A batch of changes in one transaction (webapp.tasks.sync: a YAML or crontab import):
# each stages its change and audit entry in the session; the caller commits once, then
# publishes the entries and announces the tasks.

def stage_create(fields: dict[str, Any]) -> Task:
    """Add a task from validated ``fields`` to the session (unflushed: a batch flushes
    once, then audits each new task with :func:`audit_create`)."""
    task = Task()
    _apply(task, fields)
    db.session.add(task)
    return task


def audit_create(task: Task, actor: str) -> AuditEntry:
    """The audit entry of a staged, flushed new task."""
    return audit.record(actor, "create", "task", task.id, task.name, audit.diff({}, _editable(task)))


def stage_update(task: Task, fields: dict[str, Any], actor: str) -> AuditEntry | None:
    """Apply validated ``fields`` to ``task`` in the session, audited; None when nothing changed."""
    current = _editable(task)
    _apply(task, fields)
    changes = audit.diff(current, _editable(task))
    if not changes:
        return None
    action = "update"
    if set(changes) == {"enabled"}:
        action = "enable" if task.enabled else "disable"
    return audit.record(actor, action, "task", task.id, task.name, changes)


def stage_delete(task: Task, actor: str) -> AuditEntry:
    """Delete ``task`` (and its runs) in the session, audited."""
    entry = audit.record(actor, "delete", "task", task.id, task.name, audit.diff(_editable(task), {}))
    db.session.delete(task)
    return entry


def editable(task: Task) -> dict[str, Any]:
    """The task's writable fields (``WRITABLE``), as stored."""
    return _editable(task)


def announce(action: str, task_id: int) -> None:
    """``task_changed`` for a committed change (``created``, ``updated``, ``deleted``)."""
    _announce(action, task_id)
