"""Periodic housekeeping, called from the scheduler leader's tick (every half second):
the lost-run sweep (runs whose worker died, queued runs whose job vanished or was taken
by a worker that died) every ``lost_runs.SWEEP_SECONDS`` and retention every hour, in
time-boxed batches so a tick never stalls the schedule. Never raises: a failure is
logged and retried later, and the tick goes on."""
from __future__ import annotations

import logging
import time

from redis import Redis

from webapp.core.extensions import db
from webapp.runs import lost_runs, retention

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0
PRUNE_BUDGET = 0.2       # seconds of pruning per tick while a backlog remains
RETRY_AFTER_ERROR = 60.0

_due = {"sweep": 0.0, "prune": 0.0}


def run_due(connection: Redis, now: float | None = None) -> None:
    """Run whatever housekeeping is due (needs an app context)."""
    now = time.monotonic() if now is None else now
    if now >= _due["sweep"]:
        _due["sweep"] = now + lost_runs.SWEEP_SECONDS
        try:
            lost_runs.sweep(connection)
            lost_runs.requeue_unstarted(connection)
        except Exception:
            db.session.rollback()
            log.warning("housekeeping: lost-run sweep failed", exc_info=True)
    if now >= _due["prune"]:
        try:
            result = retention.prune(time_budget=PRUNE_BUDGET)
            _due["prune"] = now + (PRUNE_EVERY if result.done else 0.0)
        except Exception:
            db.session.rollback()
            _due["prune"] = now + RETRY_AFTER_ERROR
            log.warning("housekeeping: retention prune failed", exc_info=True)
