"""The scheduling loop (``python -m worker.scheduler``): enqueues due tasks through the
same dispatch as Run Now. Any number may run; the one holding the Redis lock leads."""
from __future__ import annotations

import logging
import signal
import socket
import time
import uuid
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select

from webapp.dispatch import dispatch, redis_connection
from webapp.errors import ApiError
from webapp.extensions import db
from webapp.models import Task
from webapp.schedules import next_fire
from webapp.timeutil import as_utc, utcnow

from .context import app_context
from .runner import configure_logging

log = logging.getLogger("worker.scheduler")  # not __name__: this module also runs as __main__

TICK_SECONDS = 0.5
LEADER_KEY = "taskpulse:scheduler:leader"
LEADER_TTL_MS = 5000
FIRE_KEY_TTL = 24 * 3600

# Renew only if we still hold it: a compare-and-set, atomic in Redis.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


class Scheduler:
    """One scheduler process: leads while it holds the lock, and fires due tasks."""

    def __init__(self, connection: Redis) -> None:
        self.redis = connection
        self.token = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.leading = False
        self.stopping = False

    def hold_leadership(self) -> bool:
        """Take or renew the leader lock; True while this process leads."""
        try:
            if self.leading:
                self.leading = bool(self.redis.eval(_RENEW, 1, LEADER_KEY, self.token, LEADER_TTL_MS))
            else:
                self.leading = bool(self.redis.set(LEADER_KEY, self.token, nx=True, px=LEADER_TTL_MS))
                if self.leading:
                    log.info("scheduler %s: now leading", self.token)
        except RedisError as exc:
            log.warning("scheduler %s: Redis unavailable (%s)", self.token, exc)
            self.leading = False
        return self.leading

    def fire_due(self, now: datetime) -> int:
        """Dispatch every enabled task whose ``next_run_at`` has come; return how many."""
        due = db.session.execute(
            select(Task.id).where(Task.enabled.is_(True), Task.next_run_at <= now)
        ).scalars().all()
        fired = 0
        for task_id in due:
            task = db.session.get(Task, task_id)
            fire_at = as_utc(task.next_run_at)
            # Second guard besides the lock: one key per task and fire time.
            key = f"taskpulse:fire:{task_id}:{int(fire_at.timestamp())}"
            first = self.redis.set(key, self.token, nx=True, ex=FIRE_KEY_TTL)
            task.next_run_at = next_fire(task.schedule, task.timezone, max(fire_at, now))
            db.session.commit()
            if not first:
                continue
            try:
                dispatch(task_id, "schedule")
                fired += 1
            except ApiError as exc:
                log.info("task %s: scheduled fire at %s not run: %s", task_id, fire_at, exc.message)
        return fired

    def run_forever(self) -> None:
        """Tick until SIGTERM or SIGINT."""
        while not self.stopping:
            started = time.monotonic()
            if self.hold_leadership():
                with app_context():
                    try:
                        self.fire_due(utcnow())
                    except Exception:  # keep scheduling: one bad tick must not end the loop
                        log.exception("scheduler %s: tick failed", self.token)
                        db.session.rollback()
            time.sleep(max(0.0, TICK_SECONDS - (time.monotonic() - started)))
        if self.leading:
            self.redis.eval(_RENEW, 1, LEADER_KEY, self.token, 1)


def main() -> None:
    """Entry point of the ``scheduler`` process."""
    configure_logging()
    with app_context():
        connection = redis_connection()
    scheduler = Scheduler(connection)

    def stop(*_: object) -> None:
        scheduler.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler %s: started", scheduler.token)
    scheduler.run_forever()


if __name__ == "__main__":
    main()
