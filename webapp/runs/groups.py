"""Concurrency groups: at most N runs at once of the tasks that carry a tag.

The limits are one setting, ``concurrency`` (``{"scan": 2}``), across every worker and
queue. A run takes a slot when its job goes on the queue and holds it while it is
queued, running or retrying; a run that finds a group full stays ``queued`` with
``held`` set and the reason in ``waiting``, its job off the queue, until
:mod:`webapp.runs.release` admits it (after a run ends, in queued order).

Admission decisions are serialised, so two processes cannot both take the last slot:
on PostgreSQL by a transaction-scoped advisory lock, on SQLite by the database's single
writer (the caller has already written in the same transaction).
"""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from webapp.core.errors import ValidationError
from webapp.core.extensions import db
from webapp.core.models import ACTIVE_STATUSES, SLUG_PATTERN, Setting, Task, TaskRun

SETTING = "concurrency"
MAX_GROUPS = 100
MAX_LIMIT = 1000
_LOCK_KEY = 7240918  # beside the event log's 7240917 (webapp.live.events)

_SLUG = re.compile(SLUG_PATTERN)


def limits() -> dict[str, int]:
    """The limit of each tag that has one (``{}``: no group is limited)."""
    row = db.session.get(Setting, SETTING)
    value = row.value if row is not None else None
    return dict(value) if isinstance(value, dict) else {}


def clean_limits(value: Any) -> dict[str, int]:
    """Check a whole ``concurrency`` setting: ``{"<tag>": <1..1000>, ...}``.

    Raises:
        ValidationError: naming ``concurrency.<tag>`` (or ``concurrency``).
    """
    if not isinstance(value, dict) or len(value) > MAX_GROUPS:
        raise ValidationError(f'must be an object of at most {MAX_GROUPS} {{"<tag>": <limit>}} entries',
                              "concurrency")
    out: dict[str, int] = {}
    for tag, limit in value.items():
        if not isinstance(tag, str) or not _SLUG.fullmatch(tag):
            raise ValidationError("a tag is 1 to 64 letters, digits, '_', '.' or '-'", "concurrency")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
            raise ValidationError(f"must be a whole number from 1 to {MAX_LIMIT}", f"concurrency.{tag}")
        out[tag] = limit
    return dict(sorted(out.items()))


def store_limits(value: dict[str, int]) -> None:
    """Replace the setting (in the session; the caller commits)."""
    row = db.session.get(Setting, SETTING)
    if row is None:
        db.session.add(Setting(name=SETTING, value=value))
    else:
        row.value = value


def limited_tags(task: Task, current: dict[str, int] | None = None) -> dict[str, int]:
    """The task's tags that have a limit, with it."""
    current = limits() if current is None else current
    return {tag: current[tag] for tag in (task.tags or []) if tag in current}


def lock() -> None:
    """Serialise admission with every other process's until this transaction ends."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(db.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def in_use(tags: list[str], excluding: int | None = None) -> dict[str, int]:
    """Slots taken now per tag: runs of tasks with the tag that are queued (not held),
    running or retrying."""
    holders: dict[str, list[int]] = {tag: [] for tag in tags}
    for task_id, task_tags in db.session.execute(select(Task.id, Task.tags).where(Task.tags.is_not(None))):
        for tag in task_tags or []:
            if tag in holders:
                holders[tag].append(task_id)
    counts: dict[str, int] = {}
    for tag, task_ids in holders.items():
        query = select(func.count(TaskRun.id)).where(
            TaskRun.task_id.in_(task_ids), TaskRun.status.in_(ACTIVE_STATUSES), TaskRun.held.is_(False))
        if excluding is not None:
            query = query.where(TaskRun.id != excluding)
        counts[tag] = db.session.execute(query).scalar() if task_ids else 0
    return counts


def full_group(task: Task, run_id: int | None) -> str | None:
    """Why a run of ``task`` may not take a slot now (the first full group), or None.
    Call with the lock taken (:func:`lock`)."""
    wanted = limited_tags(task)
    if not wanted:
        return None
    used = in_use(sorted(wanted), excluding=run_id)
    for tag, limit in sorted(wanted.items()):
        if used[tag] >= limit:
            return f"waiting for a slot in group {tag} ({used[tag]} of {limit} slots taken)"
    return None


def hold_if_full(task: Task, run: TaskRun) -> None:
    """At a new run (flushed, not committed): leave it to go on the queue, or hold it
    with the reason when one of its groups is full."""
    if run.held or not (task.tags and limits()):
        return
    lock()
    reason = full_group(task, run.id)
    if reason is not None:
        run.held, run.waiting = True, reason
