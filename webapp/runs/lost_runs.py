"""Lost runs: a ``running`` run whose worker died ends ``failed`` with "worker lost".

Each Taskpulse worker refreshes a short-lived liveness key in Redis on every RQ
heartbeat (every ``BEAT_SECONDS`` while a job runs: the worker lowers RQ's job
monitoring interval to that). The run records the worker's name when it starts. A
periodic :func:`sweep` (the scheduler's leader calls it every ``SWEEP_SECONDS``) fails
the ``running`` runs whose worker's key has expired, through ``update_task_status``, so
every page sees it live. Bound: ``LIVENESS_TTL + SWEEP_SECONDS`` plus one scheduler tick
after the worker's last beat (about 26 s).

The other deaths are caught where they happen: a killed work horse by the worker
(``TaskpulseWorker.handle_work_horse_killed``), a killed worker whose horse survives by
the horse itself (it watches its parent).

Lost jobs: a ``queued`` run whose RQ job is gone from Redis (Redis restarted without
persistence, or flushed), or was taken by a worker killed before it began the job
(:mod:`webapp.runs.job_placement`), would wait forever and block its task.
:func:`requeue_unstarted` puts such a run's job on the queue again, under the same job id.
"""
from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import current_app
from redis import Redis
from sqlalchemy import select

from webapp.core.errors import QueueUnavailable
from webapp.core.extensions import db
from webapp.core.models import Task, TaskRun
from webapp.core.redis import redis_connection
from webapp.core.timeutil import utcnow
from webapp.runs import job_placement, output
from webapp.runs.dispatch import enqueue_run, job_exists, job_timeout
from webapp.runs.liveness import liveness_key
from webapp.runs.state import update_task_status

log = logging.getLogger(__name__)

SWEEP_SECONDS = 5      # how often the scheduler looks for lost runs
# An orphaned job is queued again when a second sweep, this much later or more, finds
# it so still (one look can catch a live worker between two of its steps).
ORPHAN_CONFIRM_SECONDS = SWEEP_SECONDS / 2
ORPHAN_KEY_TTL = 6 * SWEEP_SECONDS


def sweep(connection: Redis | None = None) -> list[int]:
    """Fail the ``running`` runs whose worker has stopped beating; return their ids.

    Harmless to run twice or from several processes: a run already ended is not moved.
    """
    redis = connection or redis_connection()
    rows = db.session.execute(
        select(TaskRun.id, TaskRun.worker_name)
        .where(TaskRun.status == "running", TaskRun.worker_name.is_not(None))
        .order_by(TaskRun.id)
    ).all()
    db.session.rollback()
    if not rows:
        return []
    names = sorted({name for _, name in rows})
    with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.exists(liveness_key(name))
        alive = dict(zip(names, (bool(found) for found in pipe.execute())))
    lost = []
    tail_bytes = current_app.config["OUTPUT_TAIL_BYTES"]
    for run_id, name in rows:
        if alive[name]:
            continue
        # Read again: a retry may have moved the run to another worker meanwhile.
        current = db.session.execute(
            select(TaskRun.status, TaskRun.worker_name).where(TaskRun.id == run_id)
        ).first()
        db.session.rollback()
        if current is None or tuple(current) != ("running", name):
            continue
        text, lines = output.stored_output(run_id, tail_bytes, redis)
        payload = update_task_status(
            run_id, "failed", error=f"worker lost: worker {name} stopped responding",
            output=text, output_lines=lines,
        )
        if payload is not None:
            log.warning("run %s: worker %s stopped responding; run failed", run_id, name)
            lost.append(run_id)
    return lost


def requeue_unstarted(connection: Redis | None = None) -> list[int]:
    """Enqueue again the queued runs whose RQ job has vanished, or was taken by a worker
    that died before it began (confirmed on a later sweep); return their ids.

    Only runs queued longer than ``REQUEUE_AFTER_SECONDS`` (Run Now commits the run a
    moment before it enqueues the job) and not held back by the overlap rule (those have
    no job until their turn).
    """
    redis = connection or redis_connection()
    grace = timedelta(seconds=current_app.config["REQUEUE_AFTER_SECONDS"])
    rows = db.session.execute(
        select(TaskRun.id, TaskRun.job_id, TaskRun.task_id)
        .where(TaskRun.status == "queued", TaskRun.held.is_(False),
               TaskRun.job_id.is_not(None), TaskRun.queued_at < utcnow() - grace)
        .order_by(TaskRun.id)
    ).all()
    db.session.rollback()
    requeued = []
    for run_id, job_id, task_id in rows:
        if job_exists(job_id, redis):
            if not _confirmed_orphan(redis, job_id):
                continue
            job_placement.forget_taken(redis, job_id)
            log.warning("run %s: its job %s was taken by a worker that died before it began; "
                        "queueing it again", run_id, job_id)
        else:
            log.warning("run %s: its job %s vanished from Redis while queued; queueing it again",
                        run_id, job_id)
        task = db.session.get(Task, task_id)
        name, timeout = task.name, job_timeout(task)
        db.session.rollback()
        try:
            enqueue_run(run_id, job_id, name, timeout)
        except QueueUnavailable:
            continue  # enqueue_run failed the run, with the reason, for every page to see
        requeued.append(run_id)
    return requeued


def _confirmed_orphan(redis: Redis, job_id: str) -> bool:
    """True when this sweep and an earlier one (at least ``ORPHAN_CONFIRM_SECONDS``
    before, within ``ORPHAN_KEY_TTL``) both found job ``job_id`` orphaned."""
    key = f"taskpulse:orphan:{job_id}"
    if not job_placement.orphaned(redis, job_id):
        redis.delete(key)
        return False
    now = time.time()
    if redis.set(key, now, nx=True, ex=ORPHAN_KEY_TTL):
        return False
    first_seen = float(redis.get(key) or now)
    if now - first_seen < ORPHAN_CONFIRM_SECONDS:
        return False
    redis.delete(key)
    return True
