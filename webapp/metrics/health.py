"""``/readyz``: can this installation do its work? The database and Redis answer, at
least one worker is registered and a scheduler holds the leader lock. Each check says
``ok`` or why not (a short reason, no stack trace)."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text

from webapp.core.extensions import db
from webapp.core.redis import redis_connection
from webapp.runs import dispatch
from webapp.scheduling import pause

REASON_CHARS = 200


def _database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    finally:
        db.session.rollback()


def _redis() -> str:
    redis_connection().ping()
    return "ok"


def _workers() -> str:
    count = dispatch.worker_count()
    return "ok" if count > 0 else "no rq worker is registered"


def _scheduler() -> str:
    return "ok" if pause.scheduler_leader(redis_connection()) else "no scheduler holds the leader lock"


CHECKS: dict[str, Callable[[], str]] = {
    "database": _database, "redis": _redis, "workers": _workers, "scheduler": _scheduler,
}


def readiness() -> tuple[bool, dict[str, str]]:
    """``(ready, {check: "ok" | reason})`` over every check, each run whatever the
    others said."""
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:  # a probe reports, it does not raise
            results[name] = f"{type(exc).__name__}: {exc}"[:REASON_CHARS]
    return all(v == "ok" for v in results.values()), results
