"""Releasing held runs: a queued run whose job is off the queue goes on it once nothing
holds it back any more.

Two things hold a run: its task's overlap rule ``queue`` (it waits for the task's active
run to end) and a full concurrency group (:mod:`webapp.runs.groups`; ``waiting`` says
which). :func:`release_held` looks at held runs oldest first, so slots go in queued
order. It runs after every run's end (a run-end listener, in whichever process ended
the run) and on every scheduler tick (the backstop, e.g. after a crash between the two).
Harmless to run twice or from several processes: each admission is a compare-and-set
under the groups' lock.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from webapp.core.errors import QueueUnavailable
from webapp.core.extensions import db
from webapp.core.models import ACTIVE_STATUSES, Task, TaskRun
from webapp.live import events
from webapp.runs import groups
from webapp.runs.dispatch import enqueue_run, job_timeout

if TYPE_CHECKING:
    from webapp.runs.state import RunEnd

log = logging.getLogger(__name__)

MAX_PER_PASS = 200  # a backlog is released over several passes, never all in one


def release_held() -> list[int]:
    """Queue the jobs of the held runs that may go now, oldest first; their ids."""
    held = db.session.execute(
        select(TaskRun.id, TaskRun.task_id)
        .where(TaskRun.held.is_(True), TaskRun.status == "queued")
        .order_by(TaskRun.id).limit(MAX_PER_PASS)
    ).all()
    db.session.rollback()
    released = []
    for run_id, task_id in held:
        if _admit(run_id, task_id):
            released.append(run_id)
    return released


def run_ended(end: RunEnd) -> None:
    """Run-end listener: a slot or the task itself may have come free."""
    release_held()


def _blocked_by_overlap(task: Task, run_id: int) -> bool:
    if task.overlap == "allow":
        return False
    return db.session.execute(
        select(TaskRun.id).where(
            TaskRun.task_id == task.id, TaskRun.id != run_id,
            TaskRun.status.in_(ACTIVE_STATUSES), TaskRun.held.is_(False),
        ).limit(1)
    ).scalar() is not None


def _admit(run_id: int, task_id: int) -> bool:
    """Take the run off hold if it may go (one transaction), then queue its job."""
    groups.lock()
    # Compare-and-set first: on SQLite this write also makes this transaction the
    # writer, so the counts below cannot change under it.
    taken = db.session.execute(
        update(TaskRun)
        .where(TaskRun.id == run_id, TaskRun.held.is_(True), TaskRun.status == "queued")
        .values(held=False)
        .execution_options(synchronize_session=False)
    ).rowcount
    task = db.session.get(Task, task_id)
    if taken != 1 or task is None:
        db.session.rollback()
        return False
    run = db.session.get(TaskRun, run_id)
    db.session.refresh(run)
    if _blocked_by_overlap(task, run_id):
        db.session.rollback()
        return False
    reason = groups.full_group(task, run_id)
    if reason is not None:
        if reason == run.waiting:
            db.session.rollback()
            return False
        # Still held, for a reason the page should show (a group filled up meanwhile).
        run.held, run.waiting = True, reason
        payload = events.record(task, run).payload
        db.session.commit()
        events.publish(payload)
        return False
    was_waiting = run.waiting is not None
    run.waiting = None
    payload = events.record(task, run).payload if was_waiting else None
    timeout, name, job_id = job_timeout(task), task.name, run.job_id
    db.session.commit()
    if payload is not None:
        events.publish(payload)
    try:
        enqueue_run(run_id, job_id, name, timeout)
    except QueueUnavailable:  # enqueue_run failed the run, with the reason
        return False
    log.info("run %s: released for task %s", run_id, task_id)
    return True
