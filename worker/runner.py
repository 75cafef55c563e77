"""Taskpulse's RQ worker class (the running hook, liveness, stopping a command's whole
process group, lost work horses) and the job entry point.

Run with ``rq worker -w worker.runner.TaskpulseWorker``. Never monkey-patched: a patched
forking worker cannot stop jobs.
"""
from __future__ import annotations

import functools
import gc
import logging
import os
import signal
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Worker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.job import Job, JobStatus, get_current_job
from rq.serializers import JSONSerializer
from rq.timeouts import JobTimeoutException
from rq.utils import now
from rq.worker import DequeueStrategy

from webapp.core import logs
from webapp.core.config import drop_setup_secrets
from webapp.core.db_retry import retry_on_db_outage
from webapp.core.extensions import db
from webapp.core.models import TaskRun
from webapp.core.redis import redis_connection
from webapp.live import events
from webapp.runs import liveness
from webapp.runs import output as live_output
from webapp.runs.state import UnknownRun, run_id_from_job_id, update_task_status
from webapp.runs.switches import run_refusal

from . import guard, inputs, jobenv, kinds, parent_watch, prefork, procs, progress
from .callbacks import next_attempt, success_recorded
from .context import app, app_context
from .masking import masked_failure
from .stream import RunStream

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

# Redis going away must not end the worker (under honcho one process ending stops all):
# RQ's own bookkeeping calls that fail then are logged and retried on the next beat.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
# RQ's maintenance (registry cleanup, taking over the scheduler lock of a dead worker so
# delayed retries still get enqueued) runs at most this far apart (RQ's default: 10 min).
MAINTENANCE_SECONDS = 60


def redis_may_be_away(what: str, level: int = logging.WARNING) -> Callable[[F], F]:
    """Let one of RQ's bookkeeping methods fail while Redis is away: log ``what`` and
    carry on, since the worker must outlive the outage (the next beat retries)."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(self: Worker, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except REDIS_DOWN as exc:
                log.log(level, "worker %s: %s, Redis unavailable (%s)", self.name, what, exc)
                return None

        return wrapper  # type: ignore[return-value]

    return decorate


def configure_logging() -> None:
    """Show Taskpulse's own log lines (each names its run) beside RQ's, in the format of
    TASKPULSE_LOG_FORMAT (RQ's own lines too, in json, so that every line parses)."""
    fmt = logs.log_format()
    logs.configure(("webapp", "worker"), fmt)
    if fmt == "json":
        # RQ's loggers hand their lines up to "rq", whose handler writes JSON (RQ adds
        # its own plain handlers only where no ancestor has one).
        for name in ("rq.worker", "rq.job", "rq.scheduler"):
            logging.getLogger(name).handlers.clear()
        rq_logger = logging.getLogger("rq")
        rq_logger.handlers[:] = [logs.handler(fmt)]
        rq_logger.propagate = False


class TaskpulseWorker(Worker):
    """A forking RQ worker that reports ``running``, stays visibly alive, and never
    leaves a run ``running`` or a command behind when a job ends abnormally.

    The Flask app and the Socket.IO emitter are built once here, before any fork, so
    work horses inherit them instead of building them per job. It always runs RQ's
    scheduler beside it (``--with-scheduler`` or not): retries that wait (a task's
    ``retries.backoff``) are RQ scheduled jobs, and nothing else would enqueue them.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        configure_logging()  # first, so that even the lines below come in the chosen format
        serializer = kwargs.get("serializer")
        if serializer is not None and not guard.is_json_serializer(serializer):
            # Reading a pickled job runs the writer's code before any check can refuse it.
            logging.getLogger(__name__).warning(
                "serializer %r ignored: Taskpulse's worker reads jobs as JSON only", serializer)
        kwargs["serializer"] = JSONSerializer
        kwargs["job_class"] = prefork.RunJob  # its start survives Redis going away
        # Beat often enough, busy (RQ's default: 30 s) and idle, for the lost-run sweep and
        # for pages to know which queues have a worker; RQ's maintenance at least this often.
        for name, most in (("job_monitoring_interval", liveness.BEAT_SECONDS), ("worker_ttl", liveness.WORKER_TTL),
                           ("maintenance_interval", MAINTENANCE_SECONDS)):
            kwargs[name] = min(int(kwargs.get(name) or most), most)
        super().__init__(*args, **kwargs)
        self._taskpulse_run_id: int | None = None
        self._running_recorded = False  # by this worker, for the job it forks for next
        jobenv.hide_from_jobs()
        drop_setup_secrets(app().config)
        with app().app_context():
            prefork.lean_connections(self.connection, redis_connection(), events.emitter().redis)
        prefork.warm_up()

    def work(self, burst: bool = False, logging_level: str | None = None,
             date_format: str = DEFAULT_LOGGING_DATE_FORMAT, log_format: str = DEFAULT_LOGGING_FORMAT,
             max_jobs: int | None = None, max_idle_time: int | None = None,
             with_scheduler: bool = True, dequeue_strategy: DequeueStrategy = DequeueStrategy.DEFAULT) -> bool:
        """RQ's work loop, always with RQ's scheduler (it enqueues delayed retries), even
        when ``rq worker`` passes ``with_scheduler=False`` (no ``--with-scheduler``)."""
        return super().work(burst=burst, logging_level=logging_level, date_format=date_format,
                            log_format=log_format, max_jobs=max_jobs, max_idle_time=max_idle_time,
                            with_scheduler=True, dequeue_strategy=dequeue_strategy)

    @redis_may_be_away("heartbeat failed")
    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat and the lost-run sweep's liveness key, in one round trip."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            liveness.beat(pipeline, self.name)
            return
        with self.connection.pipeline(transaction=False) as pipe:
            super().heartbeat(timeout, pipe)
            liveness.beat(pipe, self.name)
            pipe.execute()

    @redis_may_be_away("suspension check skipped")
    def check_for_suspension(self, burst: bool) -> None:
        """RQ's suspension check; while Redis is away, carry on to the dequeue, which
        waits for Redis to come back (RQ would otherwise quit the worker here)."""
        super().check_for_suspension(burst)

    @redis_may_be_away("state not recorded", logging.DEBUG)
    def set_state(self, *args: Any, **kwargs: Any) -> None:
        """RQ's worker state (shown by ``rq info``); not fatal while Redis is away."""
        super().set_state(*args, **kwargs)

    @redis_may_be_away("maintenance skipped")
    def run_maintenance_tasks(self) -> None:
        """RQ's maintenance (registry cleanup, scheduler lock); retried next time while
        Redis is away."""
        super().run_maintenance_tasks()

    @redis_may_be_away("working time not recorded", logging.DEBUG)
    def set_current_job_working_time(self, *args: Any, **kwargs: Any) -> None:
        """RQ's bookkeeping while a job runs; skipped (not fatal) while Redis is away."""
        super().set_current_job_working_time(*args, **kwargs)

    @redis_may_be_away("job heartbeat failed")
    def maintain_heartbeats(self, job: Job) -> None:
        """RQ's job heartbeats; skipped (not fatal) while Redis is away."""
        super().maintain_heartbeats(job)

    def execute_job(self, job: Job, queue: Any) -> None:
        """Run a Taskpulse job; fail any other job without running it (see
        :mod:`worker.guard`). Remember which run this worker is on (for
        :meth:`kill_horse`). If Redis went away while the job ran, RQ's record of it may
        be stale, but the run's state is in the database: log it and go back to waiting
        for Redis and the next job."""
        reason = guard.foreign_reason(job)
        if reason is not None:
            self._refuse_foreign_job(job, queue, reason)
            return
        run_id = self._taskpulse_run_id = run_id_from_job_id(job.id)
        # Every line about this job names its run (the work horse inherits it by fork).
        bound = logs.bind_run(run_id, None, job.id) if run_id is not None else None
        try:
            super().execute_job(job, queue)
        except REDIS_DOWN as exc:
            log.warning("run %s: Redis went away during job %s (%s); the worker carries on",
                        run_id, job.id, exc)
        finally:
            self._taskpulse_run_id = None
            if bound is not None:
                logs.unbind_run(bound)
            if run_id is not None:
                try:
                    procs.forget(self.connection, run_id)
                except Exception:  # Redis away: the record expires on its own
                    log.debug("run %s: process record not dropped", run_id)

    def fork_work_horse(self, job: Job, queue: Any) -> None:
        """RQ's fork, the worker's objects frozen first (the horse's garbage collector
        then does not touch, and copy, every shared page); the horse's pid recorded."""
        run_id = run_id_from_job_id(job.id)
        if run_id is not None:  # committed before the fork, while all is warm (worker.prefork)
            self._running_recorded = prefork.mark_running(run_id, self.name, job.id)
        gc.freeze()
        try:
            super().fork_work_horse(job, queue)
        except OSError as exc:  # no work horse: the run recorded running must not stay so
            if run_id is not None:
                with app_context():
                    update_task_status(run_id, "failed", error=f"could not start the work horse: {exc}")
            raise
        finally:
            gc.unfreeze()  # in the worker: its garbage is collected as before
        if run_id is not None:
            try:
                procs.remember(self.connection, run_id, horse=self.horse_pid)
            except Exception:  # Redis away: only the killing of a lost horse needs it
                log.warning("run %s: could not record the work horse's pid", run_id)

    def _refuse_foreign_job(self, job: Job, queue: Any, reason: str) -> None:
        """Mark a foreign job failed in RQ (``rq info`` lists it) without forking, importing
        or calling anything it names: no callbacks, retries, webhooks or dependents."""
        log.warning("worker %s: job %s on queue %s refused without running: %s",
                    self.name, job.id, queue.name, reason)
        try:
            with self.connection.pipeline() as pipe:
                job.set_status(JobStatus.FAILED, pipeline=pipe)
                job.ended_at = now()
                job._handle_failure(f"refused by Taskpulse's worker: {reason}", pipeline=pipe,
                                    worker_name=self.name)
                pipe.lrem(queue.intermediate_queue_key, 1, job.id)
                pipe.execute()
        except REDIS_DOWN as exc:
            log.warning("job %s: could not be marked failed, Redis unavailable (%s)", job.id, exc)

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        """RQ's bookkeeping (skipped if Redis is away: ``running`` is recorded), confine."""
        try:
            super().prepare_job_execution(job, remove_from_intermediate_queue)
        except REDIS_DOWN as exc:
            log.warning("job %s: RQ's bookkeeping skipped, Redis unavailable (%s)", job.id, exc)
        run_id = run_id_from_job_id(job.id)
        if run_id is None:
            return
        # First thing in the horse: drop the worker's settings from its environment
        # (the app already holds what it needs), so nothing the job starts inherits them.
        jobenv.confine_process(jobenv.base_environment())
        with app_context():
            # The horse must not share the parent's pooled DB connections.
            db.engine.dispose(close=False)
            if not self._running_recorded:  # the database was away for the worker
                try:
                    update_task_status(run_id, "running", worker_name=self.name)
                except UnknownRun:
                    log.warning("run %s: no such run (job %s)", run_id, job.id)
        parent_watch.start(os.getppid(), run_id)

    def kill_horse(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Kill the work horse (RQ), then the process group of the command it ran: it
        leads its own session, so killing the horse alone would leave it running."""
        run_id = self._taskpulse_run_id
        group = procs.recorded_group(self.connection, run_id) if run_id is not None else None
        super().kill_horse(sig)
        if group:
            procs.kill_recorded_group(self.connection, run_id, pgid=group)

    def handle_work_horse_killed(self, job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
        """The work horse died without reporting (SIGKILL, OOM): this attempt failed, and
        the run is ``retrying`` if RQ will retry it, else ``failed``."""
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        run_id = run_id_from_job_id(job.id)
        if run_id is None:
            return
        procs.kill_recorded_group(self.connection, run_id)
        signal_note = f" (signal {os.WTERMSIG(ret_val)})" if ret_val and os.WIFSIGNALED(ret_val) else ""
        status, fields = next_attempt(job)
        with app_context() as flask_app:
            text, lines = live_output.stored_output(run_id, flask_app.config["OUTPUT_TAIL_BYTES"],
                                                    self.connection)
            try:
                update_task_status(run_id, status, error=f"worker lost: the work horse died{signal_note}",
                                   output=text, output_lines=lines, **fields)
            except UnknownRun:
                pass


def _send_progress(run_id: int, percent: int, message: str | None) -> None:
    with app_context():
        update_task_status(run_id, "running", progress=percent, progress_message=message)


def _send_lines(run_id: int, task_id: int, lines: list[dict[str, Any]]) -> None:
    with app_context():
        live_output.append(run_id, task_id, lines)


def _on_spawn(connection: Redis, run_id: int, pgid: int) -> None:
    try:
        procs.remember(connection, run_id, group=pgid)
    except Exception:
        log.warning("run %s: could not record process group %s", run_id, pgid)


def _refuse(run_id: int, refusal: kinds.JobRefused) -> NoReturn:
    """Fail this job at once, and for good: a refusal is a setting, not a flaky failure,
    so RQ is told not to retry it; the failure callback records the reason."""
    log.warning("run %s: refused: %s", run_id, refusal)
    job = get_current_job()
    if job is not None:
        job.retries_left = 0
    raise refusal


@retry_on_db_outage
def _load_run(run_id: int) -> TaskRun | None:
    """The run with its task, once the database answers: a job that starts while the
    database is away waits for it, as the run's state changes do, rather than failing
    a run whose command never ran."""
    return prefork.read_run(run_id)


def execute_run(run_id: int) -> dict[str, Any]:
    """The RQ job: run the task's kind and return ``{"exit_code", "output", "output_lines"}``.

    A run that is not ``running`` when its job starts (canceled while queued) does
    nothing. Output lines and progress stream out while the kind runs.

    The task's kind must be allowed by this worker's settings (:func:`run_refusal`),
    else the run fails at once with the reason, without retries.

    Raises:
        kinds.JobFailed: the job failed; the failure callback records it.
    """
    with app_context() as flask_app:
        run = _load_run(run_id)
        if run is None:
            raise kinds.JobFailed(f"run {run_id} no longer exists (task deleted?)")
        if run.status != "running":
            log.info("run %s: is %s, so its job does nothing", run_id, run.status)
            return {"exit_code": None, "output": None, "output_lines": None}
        kind, config, timeout = run.task.kind, dict(run.task.config), run.task.timeout
        task_id, attempt, max_attempts = run.task_id, run.attempt, run.max_attempts
        logs.bind_run(run_id, task_id, run.job_id)  # the work horse ends with the job
        tail_bytes = flask_app.config["OUTPUT_TAIL_BYTES"]
        # This worker's own switches, which may differ from the web's that dispatched it.
        refusal = run_refusal(kind, config)
        try:
            given = inputs.for_run(run)
        except inputs.InputRefused as exc:
            given, refusal = None, refusal or str(exc)
        env = jobenv.for_run(run_id, run.task.name, extra=given.variables if given else None)
        redis = redis_connection()
        first_line = live_output.last_line_number(run_id, redis) if attempt > 1 else 0
    executor = kinds.KINDS.get(kind)
    if refusal is not None or executor is None or given is None:
        _refuse(run_id, kinds.JobRefused(refusal or f"unknown job kind {kind!r}"))
    mask = given.mask
    stream = RunStream(functools.partial(_send_progress, run_id), functools.partial(_send_lines, run_id, task_id),
                       first_line=first_line, mask=mask if mask else None)
    if attempt > 1:
        stream.line("system", f"attempt {attempt} of {max_attempts}")
    progress.set_current_stream(stream)
    # This runs in the work horse (one per job): a python job, and whatever it starts,
    # sees the job's environment only.
    jobenv.confine_process(env)
    try:
        outcome = executor(config, timeout, run_id, tail_bytes, stream=stream,
                           on_spawn=functools.partial(_on_spawn, redis, run_id), env=env,
                           kwargs=given.kwargs, mask=mask if mask else None)
    except kinds.JobRefused as exc:
        exc.lines = stream.line_count or None
        _refuse(run_id, masked_failure(exc, mask))
    except kinds.JobFailed as exc:
        exc.lines = stream.line_count or None
        raise masked_failure(exc, mask) from None
    except Exception as exc:
        if not mask or isinstance(exc, JobTimeoutException):
            raise
        # A python job's own exception: its message may hold a value it was given, and
        # it becomes the run's error (and RQ's record of the failure) as it is.
        raise kinds.JobFailed(mask(f"{type(exc).__name__}: {exc}"),
                              lines=stream.line_count or None) from None
    finally:
        progress.set_current_stream(None)
        stream.close()
        try:
            procs.forget(redis, run_id, group_only=True)
        except Exception:  # Redis away: the record expires on its own
            log.debug("run %s: process group record not dropped", run_id)
    result = {"exit_code": outcome.exit_code, "output": outcome.output,
              "output_lines": stream.line_count or None}
    # Record the success here, in the database, rather than only in RQ's success
    # callback: RQ's bookkeeping before that callback needs Redis, and a result must
    # survive Redis being away at this moment. The callback then finds the run final.
    with app_context():
        update_task_status(run_id, "success", **result)
    success_recorded(run_id)
    return result
