"""Worker pools: which run queues a live worker serves now, so a task whose queue has
none can say so on every page ("no worker for queue scanners").

Read from RQ's own worker registry (what ``rq info`` shows) by each web process's
watchdog; a worker that has not beaten for ``SERVED_STALE_SECONDS`` does not count.
"""
from __future__ import annotations

import logging

from redis.exceptions import RedisError
from sqlalchemy import select

from webapp.core.extensions import db
from webapp.core.models import Task
from webapp.runs.dispatch import served_queues
from webapp.runs.liveness import SERVED_STALE_SECONDS

log = logging.getLogger(__name__)


def task_queues() -> set[str]:
    """Every queue some task's runs go to."""
    named = set(db.session.execute(select(Task.queue).distinct()).scalars())
    db.session.rollback()
    return named


def queue_report() -> dict[str, int] | None:
    """Live workers per queue, for every queue a task names (0: none) and every queue a
    worker serves; None while Redis is away (nothing is known then)."""
    named = task_queues()
    try:
        served = served_queues(SERVED_STALE_SECONDS)
    except RedisError as exc:
        log.debug("worker pools: Redis unavailable (%s)", exc)
        return None
    return {name: served.get(name, 0) for name in sorted(named | set(served))}
