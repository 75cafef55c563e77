"""Taskpulse's RQ worker class (the running hook) and the job entry point.

Run with ``rq worker -w worker.runner.TaskpulseWorker``. Never monkey-patched: a patched
forking worker cannot stop jobs.
"""
from __future__ import annotations

import logging
import os
from typing import Any

from rq import Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from webapp import events
from webapp.extensions import db
from webapp.models import TaskRun
from webapp.runs import UnknownRun, run_id_from_job_id, update_task_status

from . import kinds
from .context import app, app_context

log = logging.getLogger(__name__)


def configure_logging() -> None:
    """Show Taskpulse's own log lines (each names its run) beside RQ's."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s", "%H:%M:%S"))
    for name in ("webapp", "worker"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)


class TaskpulseWorker(Worker):
    """A forking RQ worker that reports ``running`` and lost work horses.

    The Flask app and the Socket.IO emitter are built once here, before any fork, so
    work horses inherit them instead of building them per job.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("serializer") is None:
            kwargs["serializer"] = JSONSerializer
        super().__init__(*args, **kwargs)
        configure_logging()
        with app().app_context():
            events.emitter()

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        """RQ's bookkeeping, then mark the run ``running`` (this runs in the work horse)."""
        super().prepare_job_execution(job, remove_from_intermediate_queue)
        run_id = run_id_from_job_id(job.id)
        if run_id is None:
            return
        with app_context():
            # The horse must not share the parent's pooled DB connections.
            db.engine.dispose(close=False)
            try:
                update_task_status(run_id, "running")
            except UnknownRun:
                log.warning("run %s: no such run (job %s)", run_id, job.id)

    def handle_work_horse_killed(self, job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
        """The work horse died without reporting (SIGKILL, OOM): the run failed."""
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        run_id = run_id_from_job_id(job.id)
        if run_id is None:
            return
        signal_note = f" (signal {os.WTERMSIG(ret_val)})" if ret_val and os.WIFSIGNALED(ret_val) else ""
        with app_context():
            try:
                update_task_status(run_id, "failed", error=f"worker lost: the work horse died{signal_note}")
            except UnknownRun:
                pass


def execute_run(run_id: int) -> dict[str, Any]:
    """The RQ job: run the task's kind and return ``{"exit_code", "output"}``.

    Raises:
        kinds.JobFailed: the job failed; the failure callback records it.
    """
    with app_context() as flask_app:
        run = db.session.get(TaskRun, run_id)
        if run is None:
            raise kinds.JobFailed(f"run {run_id} no longer exists (task deleted?)")
        kind, config, timeout = run.task.kind, dict(run.task.config), run.task.timeout
        tail_bytes = flask_app.config["OUTPUT_TAIL_BYTES"]
    executor = kinds.KINDS.get(kind)
    if executor is None:
        raise kinds.JobFailed(f"unknown job kind {kind!r}")
    outcome = executor(config, timeout, run_id, tail_bytes)
    return {"exit_code": outcome.exit_code, "output": outcome.output}
