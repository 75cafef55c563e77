"""RQ job callbacks: each turns the job's end into a run status through
``update_task_status``.

``on_success`` and ``on_failure`` run in the work horse; ``on_stopped`` in the worker (the
horse is dead by then). ``rq info`` may call ``on_failure`` for abandoned jobs in its own
process, so this module imports cleanly anywhere and builds the app on first use.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from redis import Redis
from rq.exceptions import AbandonedJobError
from rq.job import Job
from rq.timeouts import JobTimeoutException

from webapp.core.timeutil import utcnow
from webapp.runs import output as live_output
from webapp.runs.state import UnknownRun, run_id_from_job_id, update_task_status

from .context import app_context

log = logging.getLogger(__name__)

# The run whose success this work horse has recorded already (worker.runner.execute_run
# does, in the database, before RQ's bookkeeping): its success callback has nothing to add.
_recorded_success: int | None = None


def success_recorded(run_id: int) -> None:
    """Note that this process recorded run ``run_id``'s success (see :func:`on_success`)."""
    global _recorded_success
    _recorded_success = run_id


def _update(job: Job, status: str, **fields: Any) -> None:
    run_id = run_id_from_job_id(job.id)
    if run_id is None:
        return
    with app_context():
        try:
            update_task_status(run_id, status, **fields)
        except UnknownRun:
            log.warning("run %s: gone before it could be marked %s", run_id, status)


def _output_from_redis(job: Job) -> dict[str, Any]:
    """The run's output as its live lines left it (for ends the horse did not report)."""
    run_id = run_id_from_job_id(job.id)
    if run_id is None:
        return {}
    with app_context() as flask_app:
        text, lines = live_output.stored_output(run_id, flask_app.config["OUTPUT_TAIL_BYTES"])
    return {"output": text, "output_lines": lines}


def on_success(job: Job, connection: Redis, result: Any, *args: Any, **kwargs: Any) -> None:
    """The job returned: the run succeeded (unless this work horse recorded it already:
    one query and a rollback fewer per run)."""
    if _recorded_success is not None and _recorded_success == run_id_from_job_id(job.id):
        return
    result = result if isinstance(result, dict) else {}
    _update(job, "success", output=result.get("output"), exit_code=result.get("exit_code"),
            output_lines=result.get("output_lines"))


def describe_failure(job: Job, exc_type: Any, value: Any) -> str:
    """A one-line, user-facing reason for a failed job."""
    if isinstance(value, JobTimeoutException) or exc_type is JobTimeoutException:
        return f"timed out after {job.timeout} s"
    if isinstance(value, AbandonedJobError) or exc_type is AbandonedJobError:
        return "worker lost: the job was abandoned (its worker stopped heartbeating)"
    if value is None:
        return "failed" if exc_type is None else f"{getattr(exc_type, '__name__', exc_type)}"
    from .kinds import JobFailed

    if isinstance(value, JobFailed):
        return str(value)
    return f"{type(value).__name__}: {value}"


def next_attempt(job: Job) -> tuple[str, dict[str, Any]]:
    """``("retrying", {"next_attempt_at": ...})`` when RQ will retry this failed attempt
    (call before RQ counts the failure: in a failure callback or a killed-horse handler),
    else ``("failed", {})``."""
    if job.should_retry:
        delay = job.get_retry_interval()
        return "retrying", {"next_attempt_at": utcnow() + timedelta(seconds=delay)}
    return "failed", {}


def on_failure(job: Job, connection: Redis, exc_type: Any = None, value: Any = None,
               traceback: Any = None, *args: Any, **kwargs: Any) -> None:
    """The job raised, timed out, or was abandoned: this attempt failed. The run is
    ``retrying`` when RQ will try again (RQ calls this on every failed attempt), else
    ``failed``."""
    status, fields = next_attempt(job)
    fields.update(
        error=describe_failure(job, exc_type, value)[:2000],
        output=getattr(value, "output", None),
        exit_code=getattr(value, "exit_code", None),
        output_lines=getattr(value, "lines", None),
    )
    if fields["output"] is None and isinstance(value, (JobTimeoutException, AbandonedJobError)):
        fields.update(_output_from_redis(job))
    _update(job, status, **fields)


def on_stopped(job: Job, connection: Redis, *args: Any, **kwargs: Any) -> None:
    """Stopped by an operator (RQ's stop command); runs in the parent worker."""
    _update(job, "stopped", error="stopped by an operator", **_output_from_redis(job))
