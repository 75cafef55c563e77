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

from sqlalchemy.orm import configure_mappers, joinedload

from webapp.core.db_retry import is_outage
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


def mark_running(run_id: int, worker_name: str, job_id: str) -> tuple[bool, dict[str, Any] | None]:
    """Commit ``running`` in the worker, just before the fork (after RQ's own
    bookkeeping of the job in the worker): its database connection and its statement
    caches are warm, where a new work horse opened its own and compiled every statement
    again. The event is *not* published here: the work horse publishes it (the payload
    is inherited by the fork) once RQ has handed it the job, so that a page sees
    ``running`` only when the job's bookkeeping is done, as before; an event the horse
    could not publish is in the event log, and the ``seq_head`` check brings it. If the
    horse dies before it reports, the worker's killed-horse handler ends the run, as it
    always did. A run that cannot start (canceled while queued) stays as it is, and its
    job finds it so and does nothing.

    Returns ``(recorded, payload)``: ``recorded`` False when the work horse must record
    ``running`` itself (the worker tries once only: while the database is away the
    worker must go on beating, since a worker silent for 20 s counts as lost; the horse
    retries under the worker's watch, as before); ``payload`` the event to publish.
    """
    with app_context():
        try:
            payload = update_task_status.__wrapped__(run_id, "running", worker_name=worker_name,
                                                     publish=False)
            return True, payload
        except UnknownRun:
            log.warning("run %s: no such run (job %s)", run_id, job_id)
            return True, None
        except Exception as exc:  # never the worker's end: the work horse tries again
            if is_outage(exc):
                log.warning("run %s: database unavailable, the work horse records running (%s)",
                            run_id, str(exc).splitlines()[0][:200])
            else:
                log.exception("run %s: running not recorded by the worker", run_id)
            return False, None
        finally:
            db.session.close()
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
