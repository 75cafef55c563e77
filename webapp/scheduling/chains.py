"""Chains: when a run ends, the tasks its task names in ``then`` start (trigger
``chain``, with ``parent_run_id``), through the same path as a scheduled fire: the
child's overlap rule, its concurrency groups and its parameters' defaults apply.

``when``: ``success`` after a success, ``failure`` after a failure, ``always`` after
either or a stop. A canceled or skipped run never ran, so it starts nothing. A disabled
child is not started: a ``skipped`` run says so, so the chain's end is visible.
"""
from __future__ import annotations

import logging

from sqlalchemy import select

from webapp.core.extensions import db
from webapp.core.models import Task
from webapp.live import events
from webapp.runs.state import RunEnd, record_skipped_run
from webapp.scheduling.fire import start_run

log = logging.getLogger(__name__)

TRIGGER = "chain"
# Which ``when`` values a run's end starts.
STARTS: dict[str, tuple[str, ...]] = {
    "success": ("success", "always"),
    "failed": ("failure", "always"),
    "stopped": ("always",),
}


def run_ended(end: RunEnd) -> None:
    """Run-end listener: start the ended run's task's ``then`` children that apply."""
    wanted = STARTS.get(end.status)
    if wanted is None:
        return
    names = [entry["task"] for entry in end.then if entry.get("when", "success") in wanted]
    for name in dict.fromkeys(names):
        start_child(name, end.run_id)


def start_child(name: str, parent_run_id: int) -> str:
    """Start task ``name`` as the child of run ``parent_run_id``; what happened."""
    task_id = db.session.execute(select(Task.id).where(Task.name == name)).scalar()
    if task_id is None:  # renamed or deleted since the parent started (both are guarded)
        db.session.rollback()
        log.warning("run %s: its chain names no task %r now; nothing started", parent_run_id, name)
        return "missing"
    task = db.session.get(Task, task_id, with_for_update=True)
    if not task.enabled:
        run, payload = record_skipped_run(task, TRIGGER, "skipped: the task is disabled",
                                          parent_run_id=parent_run_id)
        run_id = run.id
        db.session.commit()
        events.publish(payload)
        log.info("run %s: chain from run %s skipped: task %s is disabled", run_id, parent_run_id, task_id)
        return "skipped"
    outcome = start_run(task, None, trigger=TRIGGER, parent_run_id=parent_run_id)
    log.info("run %s: chain started task %s: %s", parent_run_id, task_id, outcome)
    return outcome
