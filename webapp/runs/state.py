"""The run state machine. ``update_task_status`` is the only way a run changes state."""
from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased, joinedload

from webapp.core.db_retry import retry_on_db_outage
from webapp.core.extensions import db
from webapp.core.models import TERMINAL_STATUSES, Task, TaskRun
from webapp.core.timeutil import as_utc, utcnow
from webapp.live import events
from webapp.runs import (
    groups,
    rollup,  # noqa: F401  (registers the flush hook that counts runs for /metrics)
)

log = logging.getLogger(__name__)

# Allowed moves; anything else is a late or duplicate report and is ignored, so a
# run never goes backwards (a "running" arriving after "success" changes nothing).
TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"running", "canceled", "failed", "stopped", "skipped"}),
    "running": frozenset({"success", "failed", "stopped", "retrying"}),
    "retrying": frozenset({"queued", "running", "canceled", "failed", "stopped"}),
}


@dataclass(frozen=True)
class RunEnd:
    """A run's end as run-end listeners are told it: the run, its terminal status, and
    its task's chain and alert settings as they stood in the transaction that ended it
    (so a listener with nothing to do reads nothing: in a work horse every statement
    is compiled anew)."""

    run_id: int
    status: str
    task_id: int
    then: tuple[dict[str, Any], ...] = ()
    notify: dict[str, Any] | None = None


# Called with a RunEnd after a run's move to a terminal status is committed and
# published. Rooms above this one (alerts) register here, so this module never imports
# them; a listener that fails is logged and never undoes or delays the state change.
RunEndListener = Callable[[RunEnd], None]
_run_end_listeners: list[RunEndListener] = []


def on_run_end(listener: RunEndListener) -> None:
    """Call ``listener(end)`` after every committed terminal move (once per function,
    however many apps a process builds)."""
    if listener not in _run_end_listeners:
        _run_end_listeners.append(listener)


def _ending(run: TaskRun, task: Task) -> RunEnd:
    return RunEnd(run.id, run.status, task.id, tuple(copy.deepcopy(task.then or [])),
                  copy.deepcopy(task.notify) if task.notify else None)


def _tell_run_end(end: RunEnd) -> None:
    for listener in list(_run_end_listeners):
        try:
            listener(end)
        except Exception:
            log.exception("run %s: run-end listener %s failed", end.run_id,
                          getattr(listener, "__name__", listener))
            db.session.rollback()


class UnknownRun(LookupError):
    """Raised when a status update names a run that does not exist."""


def job_id_for(run_id: int) -> str:
    """The RQ job id of a run, readable in ``rq info``."""
    return f"run-{run_id}"


def run_id_from_job_id(job_id: str | None) -> int | None:
    """Inverse of :func:`job_id_for`; None for jobs that are not Taskpulse runs."""
    if job_id and job_id.startswith("run-") and job_id[4:].isdigit():
        return int(job_id[4:])
    return None


def open_run(task: Task, trigger: str, *, scheduled_for: datetime | None = None,
             held: bool = False, parent_run_id: int | None = None) -> tuple[TaskRun, dict[str, Any]]:
    """Create a queued run and its event row in the current transaction (no commit).

    ``scheduled_for`` is the fire a scheduled run is for; ``held`` keeps its job off the
    queue until the task's active run ends (overlap "queue"); ``parent_run_id`` is the
    run whose end started it (trigger ``chain``). A run whose concurrency group is full
    comes back ``held`` too, with the reason in ``waiting``: the caller then leaves its
    job off the queue (webapp.runs.release admits it later).

    Returns the run and the event payload to publish once the caller has committed.
    """
    now = utcnow()
    run = TaskRun(task=task, trigger=trigger, status="queued", queued_at=now,
                  scheduled_for=scheduled_for, held=held, attempt=1,
                  max_attempts=max_attempts_of(task), parent_run_id=parent_run_id)
    db.session.add(run)
    db.session.flush()
    run.job_id = job_id_for(run.id)
    groups.hold_if_full(task, run)
    task.last_run_at = now
    task.last_status = "queued"
    event = events.record(task, run)
    return run, event.payload


def max_attempts_of(task: Task) -> int:
    """How many attempts a run of ``task`` gets: 1 + its ``retries.max``."""
    retries = task.retries or {}
    return 1 + int(retries.get("max") or 0)


def record_skipped_run(task: Task, trigger: str, reason: str, *, scheduled_for: datetime | None = None,
                       parent_run_id: int | None = None) -> tuple[TaskRun, dict[str, Any]]:
    """Create a run that is ``skipped`` from the start (a fire that did not run, e.g.
    because a run is still active) and its event row, in the current transaction.

    The task's last_run_at/last_status are left alone: nothing ran.
    Returns the run and the event payload to publish once the caller has committed.
    """
    now = utcnow()
    run = TaskRun(task=task, trigger=trigger, status="skipped", queued_at=now,
                  finished_at=now, error=reason, scheduled_for=scheduled_for,
                  parent_run_id=parent_run_id)
    db.session.add(run)
    db.session.flush()
    run.job_id = job_id_for(run.id)
    event = events.record(task, run)
    return run, event.payload


@retry_on_db_outage
def update_task_status(
    run_id: int,
    status: str,
    *,
    error: str | None = None,
    output: str | None = None,
    exit_code: int | None = None,
    progress: int | None = None,
    progress_message: str | None = None,
    next_attempt_at: datetime | None = None,
    worker_name: str | None = None,
    output_lines: int | None = None,
) -> dict[str, Any] | None:
    """Move run ``run_id`` to ``status``, commit, then publish ``task_update``.

    Writes the run, the task's ``last_run_at``/``last_status``/``last_error`` and the
    event row in one transaction. Returns the published payload, or None when the move
    is not allowed from the run's current status (nothing is written then).

    ``running`` -> ``running`` with ``progress`` is a progress report: the run's
    progress (and message) change and an event row is written like any other, but
    nothing else moves. ``retrying`` -> ``running`` starts the next attempt.

    Raises:
        UnknownRun: no run has this id.
    """
    run, newest = _locked_run(run_id)
    if run is None:
        db.session.rollback()
        raise UnknownRun(run_id)
    progress_report = status == run.status == "running" and progress is not None
    if not progress_report and status not in TRANSITIONS.get(run.status, frozenset()):
        log.info("run %s: ignoring %s -> %s", run_id, run.status, status)
        db.session.rollback()
        return None

    now = utcnow()
    task = run.task
    previous = run.status
    run.status = status
    if status != "queued":
        run.waiting = None  # it no longer waits for a slot
    if status == "running" and not progress_report:
        if previous != "retrying" or run.started_at is None:
            run.started_at = now  # a run's start is its first attempt's
        if previous == "retrying":  # the next attempt begins with a clean slate
            run.attempt = (run.attempt or 1) + 1
            run.error = None
            run.progress = None
            run.progress_message = None
        run.next_attempt_at = None
        if worker_name is not None:
            run.worker_name = worker_name
    if status == "retrying":
        run.next_attempt_at = next_attempt_at
    if progress is not None:
        run.progress = progress
        run.progress_message = progress_message
    if output_lines is not None:
        run.output_lines = output_lines
    if output is not None:
        run.output = output
    if exit_code is not None:
        run.exit_code = exit_code
    if status in TERMINAL_STATUSES:
        run.next_attempt_at = None
        run.finished_at = now
        started = as_utc(run.started_at)
        if started is not None:
            run.duration_ms = int((now - started).total_seconds() * 1000)
        run.error = error if status != "success" else None
        if status == "success":
            run.progress = 100
    elif error is not None:
        run.error = error

    if not progress_report and _is_latest_run(run, newest):
        if status == "running":
            task.last_run_at = now
        task.last_status = status
        if status == "success":
            task.last_error = None
        elif status == "failed":
            task.last_error = run.error
    event = events.record(task, run)
    payload = event.payload
    end = _ending(run, task) if status in TERMINAL_STATUSES else None
    db.session.commit()
    log.info("run %s: %s (seq %s)", run_id, status, payload["seq"])
    published = events.publish(payload)
    if end is not None:
        _tell_run_end(end)
    return published


def _locked_run(run_id: int) -> tuple[TaskRun | None, int | None]:
    """The run (row-locked on PostgreSQL), its task, and the id of the task's newest run
    that is not ``skipped``, in one query (three before: the run, its task, the newest).

    The newest is read with the run, before this transaction changes anything, which
    is what the check needs: a run this transaction moves is not skipped, before or after.
    """
    newer = aliased(TaskRun)
    newest = (select(db.func.max(newer.id))
              .where(newer.task_id == TaskRun.task_id, newer.status != "skipped")
              .scalar_subquery())
    row = db.session.execute(
        select(TaskRun, newest).where(TaskRun.id == run_id)
        .options(joinedload(TaskRun.task, innerjoin=True))
        .with_for_update(of=TaskRun)
        .execution_options(populate_existing=True)
    ).first()
    return (row[0], row[1]) if row is not None else (None, None)


def _is_latest_run(run: TaskRun, newest: int | None) -> bool:
    """True when no newer run of the task exists (``newest``, from :func:`_locked_run`),
    so the task's fields follow this run.

    Skipped runs do not count: they never ran, so a run they overtook still reports.
    """
    return newest is None or run.id >= newest
