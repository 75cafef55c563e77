"""Dispatch: turn a task into a queued run and an RQ job. The only web module that touches RQ."""
from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.worker import Worker
from sqlalchemy import select

from webapp.core.errors import ApiError, Conflict, NotFound, QueueUnavailable
from webapp.core.extensions import db
from webapp.core.models import TERMINAL_STATUSES, Task, TaskRun
from webapp.core.queries import active_runs
from webapp.core.redis import redis_connection
from webapp.core.timeutil import as_utc, utcnow
from webapp.live import events
from webapp.runs.liveness import worker_alive
from webapp.runs.state import open_run, update_task_status
from webapp.runs.switches import run_refusal
from webapp.secrets import vault
from webapp.secrets.params import clean_values, split

log = logging.getLogger(__name__)

JOB_FUNCTION = "worker.runner.execute_run"
CALLBACKS = {
    "on_success": "worker.callbacks.on_success",
    "on_failure": "worker.callbacks.on_failure",
    "on_stopped": "worker.callbacks.on_stopped",
}
# Alert deliveries (webapp.alerts) on their own queue: named here because only this
# module touches RQ. Job ids: "notify-<notification id>" and "notify-summary-<channel id>-<n>".
DELIVERY_FUNCTION = "worker.delivery.deliver"
SUMMARY_FUNCTION = "worker.delivery.send_summary"
DELIVERY_TIMEOUT = 120
TIMEOUT_GRACE = 15
RESULT_TTL = 3600
STOP_START_GRACE = 2.0  # seconds a stop waits for a work horse that is just starting
FAILURE_TTL = 7 * 24 * 3600


def job_exists(job_id: str, connection: Redis | None = None) -> bool:
    """True while RQ still holds the job (queued, scheduled, running or kept)."""
    return Job.exists(job_id, connection=connection or redis_connection())


def queue(name: str | None = None) -> Queue:
    """An RQ queue of runs (a task's ``queue``; by default ``RQ_QUEUE``), with RQ's JSON
    serializer (never pickle)."""
    return Queue(
        name or current_app.config["RQ_QUEUE"],
        connection=redis_connection(),
        serializer=JSONSerializer,
    )


def alerts_queue() -> Queue:
    """The RQ queue of alert deliveries (``taskpulse-alerts``), JSON-serialized."""
    return Queue(current_app.config["ALERTS_QUEUE"], connection=redis_connection(),
                 serializer=JSONSerializer)


def _delivery_retry() -> Retry | None:
    delays = list(current_app.config["ALERT_RETRY_DELAYS"])
    return Retry(max=len(delays), interval=delays) if delays else None


def enqueue_delivery(notification_id: int) -> bool:
    """Queue the delivery of a committed outbox row, retried after each of
    ``ALERT_RETRY_DELAYS``. False when Redis refused: the row stays pending in the
    outbox, and the alerts watchdog queues it again."""
    try:
        alerts_queue().enqueue(
            DELIVERY_FUNCTION, notification_id, job_id=f"notify-{notification_id}",
            job_timeout=DELIVERY_TIMEOUT, result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL,
            description=f"alert delivery {notification_id}", retry=_delivery_retry(),
        )
    except Exception as exc:  # Redis away: the row is in the outbox, nothing is lost
        log.warning("notification %s: could not queue its delivery: %s", notification_id, exc)
        return False
    return True


def enqueue_summary(channel_id: int, window_id: int, delay: float) -> bool:
    """Queue, ``delay`` seconds from now, the summary of what a channel held back over
    its cap; one job per channel and window (a second call for the same one is a no-op)."""
    job_id = f"notify-summary-{channel_id}-{window_id}"
    try:
        if job_exists(job_id):
            return True
        alerts_queue().enqueue_in(
            timedelta(seconds=max(0.0, delay)), SUMMARY_FUNCTION, channel_id, window_id, job_id=job_id,
            job_timeout=DELIVERY_TIMEOUT, result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL,
            description=f"alert summary of channel {channel_id}", retry=_delivery_retry(),
        )
    except Exception as exc:
        log.warning("channel %s: could not queue its summary: %s", channel_id, exc)
        return False
    return True


def queue_length(name: str | None = None) -> int:
    """Jobs waiting on an RQ queue of runs (default ``RQ_QUEUE``; for ``/metrics``).

    Raises:
        RedisError: Redis is away.
    """
    return queue(name).count


def served_queues(stale_after: float) -> dict[str, int]:
    """Live RQ workers per queue they serve, as ``rq info`` lists them: a worker whose
    last heartbeat is older than ``stale_after`` seconds counts as gone (a SIGKILLed
    worker stays registered until its key expires).

    Raises:
        RedisError: Redis is away.
    """
    now = utcnow()
    served: dict[str, int] = {}
    for worker in Worker.all(connection=redis_connection()):
        beat = worker.last_heartbeat
        if beat is None or (now - as_utc(beat)).total_seconds() > stale_after:
            continue
        for name in worker.queue_names():
            served[name] = served.get(name, 0) + 1
    return served


def worker_count() -> int:
    """RQ workers registered on Redis, as ``rq info`` counts them (for ``/metrics`` and
    ``/readyz``).

    Raises:
        RedisError: Redis is away.
    """
    return Worker.count(connection=redis_connection())


def active_run(task: Task) -> TaskRun | None:
    """The task's queued or running run, if any."""
    active = active_runs(task.id)
    return active[-1] if active else None


def dispatch(task_id: int, trigger: str = "manual", params: Any = None) -> dict[str, Any]:
    """Queue a run of a task: run row + event row committed, published, then enqueued.

    ``params`` are the run's parameter values (``{name: value}``; None: the defaults),
    checked against the task's definitions before anything is written; the run keeps
    them (secret ones as ``***``, their values sealed for the worker).

    Returns ``{"run_id", "job_id", "status": "queued"}``; ``{..., "status": "failed",
    "error"}`` when a switch refuses the task's kind now (the run exists and ended
    ``failed`` with that error, as every page sees live: design.md, "a shell run ends
    failed").

    Raises:
        NotFound: no such task.
        ValidationError: a value does not fit its parameter (field ``params.<name>``).
        Conflict: a run of the task is still queued or running.
        QueueUnavailable: Redis refused the job (the run is then marked failed).
    """
    # Row lock (PostgreSQL) so two concurrent Run Nows cannot both pass the check.
    task = db.session.get(Task, task_id, with_for_update=True)
    if task is None:
        raise NotFound(f"no task with id {task_id}")
    try:
        values = clean_values(task.params, params)
        shown, secret = split(task.params, values)
        sealed = vault.seal_params(secret)
    except ApiError:
        db.session.rollback()
        raise
    busy = active_run(task)
    if busy is not None:
        db.session.rollback()
        raise Conflict(f"a run of this task is already {busy.status} (run {busy.id})")
    run, payload = open_run(task, trigger)
    run.params, run.secret_params = shown or None, sealed
    run_id, job_id, waiting = run.id, run.job_id, run.waiting
    timeout, name = job_timeout(task), task.name
    checked = enqueue_checks(task, run)
    db.session.commit()
    events.publish(payload)
    if waiting is not None:  # a full concurrency group: webapp.runs.release queues it later
        log.info("run %s: queued, %s", run_id, waiting)
        return {"run_id": run_id, "job_id": job_id, "status": "queued", "waiting": waiting}
    refusal = enqueue_run(run_id, job_id, name, timeout, checked=checked)
    if refusal is not None:
        return {"run_id": run_id, "job_id": job_id, "status": "failed", "error": refusal}
    log.info("run %s: queued as %s (%s)", run_id, job_id, trigger)
    return {"run_id": run_id, "job_id": job_id, "status": "queued"}


def job_timeout(task: Task) -> int:
    """The RQ timeout for a run of ``task``."""
    # Shell jobs enforce the timeout themselves (to kill the whole process group and
    # say so); RQ's timeout is then only a backstop. Python jobs rely on RQ's.
    return task.timeout + (TIMEOUT_GRACE if task.kind == "shell" else 0)


Checked = tuple[str | None, Retry | None, str]  # (refusal, Retry, queue name)


def enqueue_checks(task: Task, run: TaskRun) -> Checked:
    """:func:`enqueue_run`'s look-ups (the switches' refusal, RQ's Retry, the task's
    queue) made from the run and task in hand, before the commit: two queries fewer
    between the ``queued`` event and the job reaching the queue."""
    return run_refusal(task.kind, task.config), _retry_of(run.max_attempts, task.retries), task.queue


def enqueue_run(run_id: int, job_id: str, task_name: str, timeout: int,
                checked: Checked | None = None) -> str | None:
    """Put the RQ job of a committed, queued run on the queue (Run Now, the scheduler,
    released and re-queued runs), unless this process's switches refuse the task's kind
    now: the run then ends ``failed`` with the reason, which is returned (else None).
    ``checked`` is the refusal and Retry already worked out (:func:`enqueue_checks`).

    Raises:
        QueueUnavailable: Redis refused the job (the run is then marked failed).
    """
    if checked is not None:
        refusal, retry, queue_name = checked
    else:
        run = db.session.get(TaskRun, run_id)
        refusal = run_refusal(run.task.kind, run.task.config) if run is not None else None
        retry = retry_for(run_id) if refusal is None else None
        queue_name = run.task.queue if run is not None else None
    if refusal is not None:
        db.session.rollback()
        log.warning("run %s: not queued: %s", run_id, refusal)
        update_task_status(run_id, "failed", error=refusal)
        return refusal
    try:
        queue(queue_name).enqueue(
            JOB_FUNCTION,
            run_id,
            job_id=job_id,
            job_timeout=timeout,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
            description=f"{task_name} (run {run_id})",
            retry=retry,
            **{name: Callback(path) for name, path in CALLBACKS.items()},
        )
    except Exception as exc:  # Redis down or refusing: the run must not stay queued
        log.warning("run %s: enqueue failed: %s", run_id, exc)
        update_task_status(run_id, "failed", error=f"could not queue the job: {exc}")
        raise QueueUnavailable("the job queue (Redis) is unavailable; try again") from exc
    return None


def retry_for(run_id: int) -> Retry | None:
    """RQ's Retry for a run: ``max_attempts - 1`` retries, waiting the task's
    ``retries.backoff`` delays in turn (the last delay repeats; none means at once).
    RQ reuses the *first* delay when the list is shorter than ``max``, so the list is
    padded here to say what the task means."""
    run = db.session.get(TaskRun, run_id)
    return _retry_of(run.max_attempts, run.task.retries) if run is not None else None


def _retry_of(max_attempts: int, task_retries: dict[str, Any] | None) -> Retry | None:
    if max_attempts <= 1:
        return None
    retries = max_attempts - 1
    backoff = list((task_retries or {}).get("backoff") or [0])
    delays = [backoff[min(i, len(backoff) - 1)] for i in range(retries)]
    return Retry(max=retries, interval=delays)


def stop_run(run_id: int) -> dict[str, Any]:
    """Stop a running run (RQ's stop command: the worker kills the work horse and the
    command, and ``on_stopped`` marks the run ``stopped``), or cancel a queued or
    retrying one at once (``canceled``; its job is taken off RQ and, should a worker
    have dequeued it already, does nothing).

    Returns ``{"run_id", "job_id", "action": "stop" | "cancel", "status"}``: ``status``
    is ``canceled`` for a cancel, ``running`` for a stop whose ``stopped`` follows live
    (or ``stopped`` when the run's worker was gone, so there was nothing to stop).

    Raises:
        NotFound: no such run.
        Conflict: the run has ended, or is between two states (try again).
        QueueUnavailable: Redis is away, so a running run cannot be stopped.
    """
    run = db.session.get(TaskRun, run_id)
    if run is None:
        raise NotFound(f"no run with id {run_id}")
    status, job_id, worker = run.status, run.job_id or f"run-{run_id}", run.worker_name
    db.session.rollback()
    answer = {"run_id": run_id, "job_id": job_id}
    if status in ("queued", "retrying"):
        if update_task_status(run_id, "canceled", error="canceled by an operator") is None:
            return _stop_moved(run_id)
        _cancel_job(job_id)
        log.info("run %s: canceled (was %s)", run_id, status)
        return dict(answer, action="cancel", status="canceled")
    if status == "running":
        try:
            _send_stop(job_id)
        except (NoSuchJobError, InvalidJobOperation):
            return _stop_unowned(run_id, answer, worker)
        except RedisError as exc:
            raise QueueUnavailable("the job queue (Redis) is unavailable; try again") from exc
        log.info("run %s: stop requested (worker %s)", run_id, worker)
        return dict(answer, action="stop", status="running")
    raise Conflict(f"run {run_id} has already ended ({status})")


def _send_stop(job_id: str) -> None:
    """RQ's stop command for a running job. A run is ``running`` from just before its
    worker forks (worker.prefork), while RQ names the job's worker only once the work
    horse has started: a stop in between waits for that, up to ``STOP_START_GRACE``.

    Raises:
        NoSuchJobError, InvalidJobOperation: RQ runs no such job.
        RedisError: Redis is away.
    """
    deadline = time.monotonic() + STOP_START_GRACE
    while True:
        try:
            send_stop_job_command(redis_connection(), job_id, serializer=JSONSerializer)
            return
        except InvalidJobOperation:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def _stop_moved(run_id: int) -> dict[str, Any]:
    """The run left queued/retrying while we looked: stop it where it is now."""
    now = db.session.execute(select(TaskRun.status).where(TaskRun.id == run_id)).scalar()
    db.session.rollback()
    if now == "running":
        return stop_run(run_id)
    raise Conflict(f"run {run_id} has already ended ({now})" if now in TERMINAL_STATUSES
                   else f"run {run_id} is changing state ({now}); try again")


def _stop_unowned(run_id: int, answer: dict[str, Any], worker: str | None) -> dict[str, Any]:
    """RQ runs no such job: it has just ended, or its worker is gone (then the run is
    marked stopped here, since no callback will come)."""
    if worker is not None and not worker_alive(redis_connection(), worker):
        if update_task_status(run_id, "stopped", error="stopped by an operator (its worker was gone)"):
            return dict(answer, action="stop", status="stopped")
    now = db.session.execute(select(TaskRun.status).where(TaskRun.id == run_id)).scalar()
    db.session.rollback()
    if now in TERMINAL_STATUSES:
        raise Conflict(f"run {run_id} has already ended ({now})")
    raise Conflict(f"run {run_id} is not executing in any worker right now; try again")


def _cancel_job(job_id: str) -> None:
    """Take a job off RQ (queue or scheduled retries); a job already gone is fine."""
    try:
        Job.fetch(job_id, connection=redis_connection(), serializer=JSONSerializer).cancel()
    except (NoSuchJobError, InvalidJobOperation):
        pass
    except RedisError as exc:  # the run is canceled in the database: the job will do nothing
        log.warning("job %s: could not be taken off the queue: %s", job_id, exc)
