"""Firing due tasks: one transaction per fire, through the same run path as Run Now.

Each fire moves the task's ``next_run_at`` and creates its run (queued, held or
skipped) in one transaction, then publishes, then enqueues, exactly as Run Now does.
Three guards keep a fire from running twice: the scheduler's leader lock (in the
caller), a compare-and-set on ``next_run_at`` here, and the unique
``(task_id, scheduled_for)`` of task_runs, which the database enforces.

Overlap policy when a fire finds a run of the task still active:
``skip`` (default) records a ``skipped`` run with the reason; ``allow`` enqueues anyway;
``queue`` keeps one run ``held`` (queued, its job not yet on RQ) until the active run
ends, and skips further fires meanwhile.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from webapp.core.errors import QueueUnavailable
from webapp.core.extensions import db
from webapp.core.models import Task
from webapp.core.queries import active_runs
from webapp.core.timeutil import as_utc, iso
from webapp.live import events, snapshot
from webapp.runs.dispatch import enqueue_checks, enqueue_run, job_timeout
from webapp.runs.release import release_held
from webapp.runs.state import open_run, record_skipped_run
from webapp.scheduling.misfire import DEFAULT_GRACE_SECONDS, ON_TIME_SECONDS, plan_fire
from webapp.secrets.params import default_values

log = logging.getLogger(__name__)

TRIGGER = "schedule"


@dataclass(frozen=True)
class FireSettings:
    """Scheduler-wide settings of the misfire rule (see :mod:`webapp.scheduling.misfire`)."""

    misfire_grace: float = DEFAULT_GRACE_SECONDS
    on_time: float = ON_TIME_SECONDS


def due_task_ids(now: datetime) -> list[int]:
    """Tasks whose ``next_run_at`` has come, enabled or not (disabled ones only advance)."""
    return list(db.session.execute(
        select(Task.id).where(Task.next_run_at <= now).order_by(Task.next_run_at)
    ).scalars())


def earliest_next_run() -> datetime | None:
    """The soonest ``next_run_at`` of any task, so the loop can wake right on it."""
    return as_utc(db.session.execute(select(func.min(Task.next_run_at))).scalar())


def fire_task(task_id: int, now: datetime, settings: FireSettings | None = None,
              paused: bool = False) -> str:
    """Handle one due task at ``now``: advance ``next_run_at`` and fire at most once.

    A disabled task, or any task while ``paused``, only advances. Returns what happened:
    ``queued``, ``held``, ``skipped``, ``advanced`` (nothing ran), ``not_due`` or
    ``raced`` (another scheduler got there first), ``queue_unavailable``, ``refused`` (a
    switch refuses the task's kind now: the run ended failed).
    """
    # Row lock on PostgreSQL: serialises with Run Now's check of the active run.
    task = db.session.get(Task, task_id, with_for_update=True)
    stored = task.next_run_at if task is not None else None
    if task is None or stored is None or as_utc(stored) > now:
        db.session.rollback()
        return "not_due"
    due_at = as_utc(stored)
    settings = settings or FireSettings()
    plan = plan_fire(task.schedule, task.timezone, due_at, now, misfire=task.misfire,
                     grace=settings.misfire_grace, on_time=settings.on_time)
    # Compare-and-set: of two schedulers that read the same next_run_at, one moves it.
    moved = db.session.execute(
        update(Task)
        .where(Task.id == task_id, Task.next_run_at == stored)
        .values(next_run_at=plan.next_run_at, updated_at=Task.updated_at)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        db.session.rollback()
        return "raced"
    set_committed_value(task, "next_run_at", plan.next_run_at)

    if plan.fire_at is None or paused or not task.enabled:
        why = "paused" if paused else "disabled" if not task.enabled else f"missed ({task.misfire})"
        db.session.commit()
        if paused or why == "disabled":  # they pass every fire: not worth a line each time
            log.debug("task %s: fire at %s not run: %s", task_id, iso(due_at), why)
            return "advanced"
        log.info("task %s: fire at %s not run: %s; next at %s", task_id, iso(due_at), why,
                 iso(plan.next_run_at))
        # A missed fire makes no run, so no task_update carries the new next_run_at.
        rows = snapshot.task_rows(task_id)
        events.publish_task_changed("updated", task_id, rows[0] if rows else None)
        return "advanced"
    if plan.missed:
        log.info("task %s: missed fires from %s; one run for %s (%s)", task_id, iso(due_at),
                 iso(plan.fire_at), task.misfire)
    return start_run(task, plan.fire_at)


def start_run(task: Task, fire_at: datetime | None, trigger: str = TRIGGER,
              parent_run_id: int | None = None) -> str:
    """Create a run of ``task`` (row-locked by the caller) under its overlap policy,
    commit, publish, enqueue: a scheduled fire (``fire_at``) or a chained start
    (trigger ``chain``, ``parent_run_id``). Returns what :func:`fire_task` does."""
    active = active_runs(task.id)
    reason, held = None, False
    if active and task.overlap == "skip":
        reason = f"skipped: run {active[-1].id} is still {active[-1].status} (overlap: skip)"
    elif active and task.overlap == "queue":
        waiting = next((run for run in active if run.held), None)
        if waiting is not None:
            reason = f"skipped: run {waiting.id} is already waiting (overlap: queue)"
        else:
            held = True
    task_id, timeout, name = task.id, job_timeout(task), task.name
    try:
        if reason is not None:
            run, payload = record_skipped_run(task, trigger, reason, scheduled_for=fire_at,
                                              parent_run_id=parent_run_id)
        else:
            run, payload = open_run(task, trigger, scheduled_for=fire_at, held=held,
                                    parent_run_id=parent_run_id)
            run.params = default_values(task.params)  # scheduled and chained runs use the defaults
        run_id, job_id, waiting = run.id, run.job_id, run.waiting
        checked = enqueue_checks(task, run) if reason is None and not run.held else None
        db.session.commit()
    except IntegrityError:  # this fire already has its run (the insert's flush): never double it
        db.session.rollback()
        log.warning("task %s: fire at %s already has a run; not doubled", task_id, iso(fire_at))
        return "raced"
    events.publish(payload)
    if reason is not None:
        log.info("run %s: task %s fire at %s %s", run_id, task_id, iso(fire_at), reason)
        return "skipped"
    if held:
        log.info("run %s: task %s fire at %s held behind run %s", run_id, task_id,
                 iso(fire_at), active[-1].id)
        return "held"
    if waiting is not None:
        log.info("run %s: task %s %s", run_id, task_id, waiting)
        return "held"
    try:
        if enqueue_run(run_id, job_id, name, timeout, checked=checked) is not None:
            return "refused"  # a switch is off: the run ended failed, and says why
    except QueueUnavailable:  # the run is already marked failed, and says why
        return "queue_unavailable"
    log.info("run %s: queued as %s for task %s (%s%s)", run_id, job_id, task_id, trigger,
             f" of run {parent_run_id}" if parent_run_id else f" at {iso(fire_at)}")
    return "queued"


def release_held_runs() -> int:
    """Enqueue the held runs that may go now (overlap "queue", full groups); how many."""
    return len(release_held())
