"""RQ job callbacks: each turns the job's end into a run status through
``update_task_status``.

``rq info`` may call ``on_failure`` for abandoned jobs in its own process, so this module
imports cleanly anywhere and builds the app on first use.
"""
from __future__ import annotations

import logging
from typing import Any

from redis import Redis
from rq.job import Job
from rq.timeouts import JobTimeoutException

from webapp.runs import UnknownRun, run_id_from_job_id, update_task_status

from .context import app_context

log = logging.getLogger(__name__)


def _update(job: Job, status: str, **fields: Any) -> None:
    run_id = run_id_from_job_id(job.id)
    if run_id is None:
        return
    with app_context():
        try:
            update_task_status(run_id, status, **fields)
        except UnknownRun:
            log.warning("run %s: gone before it could be marked %s", run_id, status)


def on_success(job: Job, connection: Redis, result: Any, *args: Any, **kwargs: Any) -> None:
    """The job returned: the run succeeded."""
    result = result if isinstance(result, dict) else {}
    _update(job, "success", output=result.get("output"), exit_code=result.get("exit_code"))


def describe_failure(job: Job, exc_type: Any, value: Any) -> str:
    """A one-line, user-facing reason for a failed job."""
    if isinstance(value, JobTimeoutException) or exc_type is JobTimeoutException:
        return f"timed out after {job.timeout} s"
    if value is None:
        return "failed" if exc_type is None else f"{getattr(exc_type, '__name__', exc_type)}"
    from .kinds import JobFailed

    if isinstance(value, JobFailed):
        return str(value)
    return f"{type(value).__name__}: {value}"


def on_failure(job: Job, connection: Redis, exc_type: Any = None, value: Any = None,
               traceback: Any = None, *args: Any, **kwargs: Any) -> None:
    """The job raised, timed out, or was abandoned: the run failed."""
    _update(
        job,
        "failed",
        error=describe_failure(job, exc_type, value)[:2000],
        output=getattr(value, "output", None),
        exit_code=getattr(value, "exit_code", None),
    )


def on_stopped(job: Job, connection: Redis, *args: Any, **kwargs: Any) -> None:
    """Stopped by an operator (RQ's stop command); runs in the parent worker."""
    _update(job, "stopped", error="stopped by an operator")
