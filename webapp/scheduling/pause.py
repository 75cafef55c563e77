"""The scheduler's global pause (kept in the database) and who leads (a Redis lock).

Pausing stops scheduled fires only: Run Now keeps working. While paused the leading
scheduler still moves each due task's ``next_run_at`` past now without running it, and
resuming does the same for anything left behind, so a resume never starts catch-up runs.
"""
from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.access import audit
from webapp.core.extensions import db
from webapp.core.models import Setting, Task
from webapp.core.redis import redis_connection
from webapp.core.timeutil import as_utc, iso, utcnow
from webapp.live import events
from webapp.scheduling.cron import next_fire_in_series

log = logging.getLogger(__name__)

PAUSE_SETTING = "scheduler.paused"
# The leader lock: a Redis string holding the leader's token ("host:pid:nonce").
LEADER_KEY = "taskpulse:scheduler:leader"


def _pause_row() -> Setting | None:
    return db.session.get(Setting, PAUSE_SETTING)


def _is_paused(row: Setting | None) -> bool:
    return bool(row and isinstance(row.value, dict) and row.value.get("paused"))


def scheduler_paused() -> bool:
    """True while the global pause is on."""
    return _is_paused(_pause_row())


def pause_scheduler(by: str | None = None) -> dict[str, Any]:
    """Switch the global pause on (idempotent) and return :func:`scheduler_status`."""
    row = _pause_row()
    if not _is_paused(row):
        value = {"paused": True, "since": iso(utcnow()), "by": by}
        if row is None:
            db.session.add(Setting(name=PAUSE_SETTING, value=value))
        else:
            row.value = value
        try:
            db.session.commit()
        except IntegrityError:  # a concurrent first pause inserted the row: it stands
            db.session.rollback()
        else:
            log.info("scheduler paused by %s", by or "an unnamed caller")
    return scheduler_status()


def resume_scheduler(by: str | None = None) -> dict[str, Any]:
    """Switch the global pause off (idempotent) and return :func:`scheduler_status`.

    Fires that came due while paused are passed over here, in the same transaction, so
    resuming never makes catch-up runs even when no scheduler ran during the pause.
    """
    row = _pause_row()
    if _is_paused(row):
        row.value = {"paused": False, "since": iso(utcnow()), "by": by}
        now = utcnow()
        overdue = db.session.execute(select(Task).where(Task.next_run_at <= now)).scalars()
        for task in overdue:
            task.next_run_at = next_fire_in_series(
                task.schedule, task.timezone, as_utc(task.next_run_at), now  # type: ignore[arg-type]
            )
        db.session.commit()
        log.info("scheduler resumed by %s", by or "an unnamed caller")
    return scheduler_status()


def scheduler_leader(connection: Any) -> str | None:
    """The leading scheduler's token, or None (no scheduler leads, or Redis is away)."""
    try:
        token = connection.get(LEADER_KEY)
    except RedisError:
        return None
    return token.decode() if isinstance(token, bytes) else token


def scheduler_status(connection: Any | None = None) -> dict[str, Any]:
    """``{"paused", "since", "by", "leader"}``: the pause and who set it last, and the
    token of the leading scheduler (null when none leads or Redis is unreachable)."""
    row = _pause_row()
    value = row.value if row is not None and isinstance(row.value, dict) else {}
    if connection is None:
        connection = redis_connection()
    return {
        "paused": bool(value.get("paused")),
        "since": value.get("since"),
        "by": value.get("by"),
        "leader": scheduler_leader(connection),
    }


def set_paused(paused: bool, by: str) -> dict[str, Any]:
    """Pause or resume scheduled fires for everyone, as ``by`` (API and CLI alike): the
    change, an audit entry, and the live ``scheduler_state`` for every page.

    Returns the new :func:`scheduler_status`.
    """
    status = pause_scheduler(by=by) if paused else resume_scheduler(by=by)
    entry = audit.record(by, "pause" if paused else "resume", "scheduler", None, "scheduler")
    db.session.commit()
    audit.publish(entry)
    events.publish_scheduler_state(status)
    return status
