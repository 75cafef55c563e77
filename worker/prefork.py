"""What the worker does before it forks, so that a work horse starts warm.

A work horse is a fork of the worker: whatever the worker has computed, configured or
compiled, the horse inherits for nothing, and whatever it has not, every horse does
again for itself and throws away when it exits. Profiled (bench/README.md, "Run Now
between queued and running"), a horse spent about 50 ms before ``running`` on that:
configuring the ORM's mappers, compiling each statement, opening a database and three
Redis connections, and redis-py reading its own package metadata for each of them.
"""
from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.job import Job, _job_stack
from sqlalchemy.orm import configure_mappers, joinedload

from webapp.core.db_retry import close_session, is_outage
from webapp.core.extensions import db
from webapp.core.models import Task, TaskRun
from webapp.runs.state import UnknownRun, update_task_status

from .context import app_context

log = logging.getLogger(__name__)


def read_run(run_id: int) -> TaskRun | None:
    """The run with its task, in one query (the statement :func:`warm_up` compiles)."""
    return db.session.get(TaskRun, run_id, options=[joinedload(TaskRun.task, innerjoin=True)])


def warm_up() -> None:
    """Configure the ORM's mappers and compile the statements of the reads a job makes
    (its run and task, the alerts' look-ups) by reading rows that do not exist, once,
    in the worker. Nothing is written; a database that is away leaves the caches cold."""
    configure_mappers()
    with app_context():
        try:
            read_run(0)
            db.session.get(TaskRun, 0)
            db.session.get(Task, 0)
        except Exception as exc:
            log.info("worker: statement warm-up skipped (%s)", str(exc).splitlines()[0][:200])
        finally:
            db.session.rollback()
            _drop_sqlite_connections()


def mark_running(run_id: int, worker_name: str, job_id: str) -> bool:
    """Record (commit and publish) ``running`` in the worker, after RQ's own bookkeeping
    of the job in the worker and just before the fork: its database and Redis
    connections and its statement caches are warm, where a new work horse opened its own
    and compiled every statement again. Committed and published together, as every state
    is, so events reach the pages in ``seq`` order as before (publishing from the horse,
    a fork later, let other processes' later events overtake it). If the horse dies
    before it reports, the worker's killed-horse handler ends the run, as it always did;
    if Redis goes away before the horse's own RQ bookkeeping, the horse runs the job
    anyway (``TaskpulseWorker.prepare_job_execution``). A run that cannot start
    (canceled while queued) stays as it is, and its job finds it so and does nothing.

    Returns False when the work horse must record ``running`` itself (the worker tries
    once only: while the database is away the worker must go on beating, since a worker
    silent for 20 s counts as lost; the horse retries under the worker's watch, as
    before), True when there is nothing left to record (done, or no such run).
    """
    with app_context():
        try:
            update_task_status.__wrapped__(run_id, "running", worker_name=worker_name)
            return True
        except UnknownRun:
            log.warning("run %s: no such run (job %s)", run_id, job_id)
            return True
        except Exception as exc:  # never the worker's end: the work horse tries again
            if is_outage(exc):
                log.warning("run %s: database unavailable, the work horse records running (%s)",
                            run_id, str(exc).splitlines()[0][:200])
            else:
                log.exception("run %s: running not recorded by the worker", run_id)
            return False
        finally:
            close_session()
            _drop_sqlite_connections()


def _drop_sqlite_connections() -> None:
    # No SQLite connection may cross a fork (SQLite's locks belong to the process that
    # took them): the work horse opens its own. A PostgreSQL pool stays; the horse
    # leaves the inherited connections alone (``dispose(close=False)``).
    if db.engine.dialect.name == "sqlite":
        db.engine.dispose()


def lean_connections(*clients: Any) -> None:
    """Make the Redis connections that ``clients`` open from now on skip redis-py's
    ``CLIENT SETINFO`` (two round trips, and a read of redis-py's package metadata for
    its version, on every new connection). Every work horse opens its connections anew
    after its fork, so each paid that before its first command."""
    for client in clients:
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.connection_kwargs["driver_info"] = None
            pool.connection_kwargs.pop("lib_name", None)
            pool.connection_kwargs.pop("lib_version", None)


class RunJob(Job):
    """RQ's job, whose start survives Redis being away: ``running`` is recorded (and the
    page told) by the worker before its fork, so once the work horse has the job it runs
    it whatever Redis does; RQ's own marks (here, the key's TTL lifted) are skipped then,
    as its later bookkeeping is, and the run's outcome is recorded in the database by
    the job itself (``worker.runner.execute_run``)."""

    def perform(self) -> Any:
        """RQ's ``Job.perform`` (rq 2.12), tolerating Redis being away for its first mark."""
        try:
            self.connection.persist(self.key)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("job %s: started without RQ's marks, Redis unavailable (%s)", self.id, exc)
        _job_stack.push(self)  # what get_current_job() reads
        try:
            self._result = self._execute()
        finally:
            _job_stack.pop()
        return self._result
