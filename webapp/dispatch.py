"""Dispatch: turn a task into a queued run and an RQ job. The only web module that touches RQ."""
from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from redis import Redis
from rq import Callback, Queue
from rq.serializers import JSONSerializer
from sqlalchemy import select

from . import events
from .errors import Conflict, NotFound, QueueUnavailable
from .extensions import db
from .models import ACTIVE_STATUSES, Task, TaskRun
from .runs import open_run, update_task_status

log = logging.getLogger(__name__)

JOB_FUNCTION = "worker.runner.execute_run"
CALLBACKS = {
    "on_success": "worker.callbacks.on_success",
    "on_failure": "worker.callbacks.on_failure",
    "on_stopped": "worker.callbacks.on_stopped",
}
TIMEOUT_GRACE = 15
RESULT_TTL = 3600
FAILURE_TTL = 7 * 24 * 3600


def redis_connection() -> Redis:
    """This app's Redis connection for RQ (one pool per app and process)."""
    ext = current_app.extensions.setdefault("taskpulse", {})
    if "redis" not in ext:
        ext["redis"] = Redis.from_url(current_app.config["REDIS_URL"])
    return ext["redis"]


def queue() -> Queue:
    """Taskpulse's RQ queue, with RQ's JSON serializer (never pickle)."""
    return Queue(
        current_app.config["RQ_QUEUE"],
        connection=redis_connection(),
        serializer=JSONSerializer,
    )


def active_run(task: Task) -> TaskRun | None:
    """The task's queued or running run, if any."""
    return db.session.execute(
        select(TaskRun)
        .where(TaskRun.task_id == task.id, TaskRun.status.in_(ACTIVE_STATUSES))
        .order_by(TaskRun.id.desc())
        .limit(1)
    ).scalar()


def dispatch(task_id: int, trigger: str = "manual") -> dict[str, Any]:
    """Queue a run of a task: run row + event row committed, published, then enqueued.

    Returns ``{"run_id", "job_id", "status": "queued"}``.

    Raises:
        NotFound: no such task.
        Conflict: a run of the task is still queued or running.
        QueueUnavailable: Redis refused the job (the run is then marked failed).
    """
    # Row lock (PostgreSQL) so two concurrent Run Nows cannot both pass the check.
    task = db.session.get(Task, task_id, with_for_update=True)
    if task is None:
        raise NotFound(f"no task with id {task_id}")
    busy = active_run(task)
    if busy is not None:
        db.session.rollback()
        raise Conflict(f"a run of this task is already {busy.status} (run {busy.id})")
    run, payload = open_run(task, trigger)
    run_id, job_id = run.id, run.job_id
    timeout, name = job_timeout(task), task.name
    db.session.commit()
    events.publish(payload)
    enqueue_run(run_id, job_id, name, timeout)
    log.info("run %s: queued as %s (%s)", run_id, job_id, trigger)
    return {"run_id": run_id, "job_id": job_id, "status": "queued"}


def job_timeout(task: Task) -> int:
    """The RQ timeout for a run of ``task``."""
    # Shell jobs enforce the timeout themselves (to kill the whole process group and
    # say so); RQ's timeout is then only a backstop. Python jobs rely on RQ's.
    return task.timeout + (TIMEOUT_GRACE if task.kind == "shell" else 0)


def enqueue_run(run_id: int, job_id: str, task_name: str, timeout: int) -> None:
    """Put the RQ job of a committed, queued run on the queue (Run Now and the scheduler).

    Raises:
        QueueUnavailable: Redis refused the job (the run is then marked failed).
    """
    try:
        queue().enqueue(
            JOB_FUNCTION,
            run_id,
            job_id=job_id,
            job_timeout=timeout,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
            description=f"{task_name} (run {run_id})",
            **{name: Callback(path) for name, path in CALLBACKS.items()},
        )
    except Exception as exc:  # Redis down or refusing: the run must not stay queued
        log.warning("run %s: enqueue failed: %s", run_id, exc)
        update_task_status(run_id, "failed", error=f"could not queue the job: {exc}")
        raise QueueUnavailable("the job queue (Redis) is unavailable; try again") from exc
