"""The audit log: who created, edited, deleted, ran, stopped, enabled or disabled what.

Entries are added in the same transaction as the change they describe, then sent live
to room ``audit`` (admins only) as ``audit_entry``.
"""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from webapp.core.extensions import db
from webapp.core.models import AuditEntry
from webapp.live import events
from webapp.live.names import AUDIT_ENTRY, AUDIT_ROOM

log = logging.getLogger(__name__)

# Fields of a task that change on their own (runs, clock) and are not edits.
_NOT_EDITS = {"last_run_at", "last_status", "last_error", "next_run_at", "updated_at", "created_at"}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for every edited field."""
    return {
        key: [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after))
        if key not in _NOT_EDITS and before.get(key) != after.get(key)
    }


def record(actor: str, action: str, target_type: str, target_id: int | None,
           target_name: str | None, changes: dict | None = None) -> AuditEntry:
    """Add an entry to the current transaction (the caller commits)."""
    entry = AuditEntry(username=actor, action=action, target_type=target_type,
                       target_id=target_id, target_name=target_name, changes=changes)
    db.session.add(entry)
    return entry


def publish(entry: AuditEntry) -> None:
    """Send a committed entry to room ``audit``; a failed send loses nothing."""
    events.emit(AUDIT_ENTRY, entry.to_dict(), AUDIT_ROOM, about=f"audit entry {entry.id}")


def log_run(actor: str, action: str, task_id: int, run_id: int) -> None:
    """Audit a run or stop request, in its own transaction after the dispatch."""
    from webapp.core.models import Task

    task = db.session.get(Task, task_id)
    entry = record(actor, action, "task", task_id, task.name if task else None, {"run_id": run_id})
    db.session.commit()
    publish(entry)


def recent(limit: int = 200, before: int | None = None) -> list[dict[str, Any]]:
    """The newest entries first."""
    query = select(AuditEntry)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    rows = db.session.execute(query.order_by(AuditEntry.id.desc()).limit(limit)).scalars()
    return [row.to_dict() for row in rows]
