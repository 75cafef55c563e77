"""The ``task_update`` event (its payload, publishing it, replaying it) and THE one
emit helper every server event goes out through.

This module owns the payload; nothing else builds it. Event and room names are in
:mod:`webapp.live.names`.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

import socketio as sio
from flask import current_app
from sqlalchemy import select

from webapp.core.extensions import db, socketio
from webapp.core.models import Event, Task, TaskRun
from webapp.core.timeutil import iso, utcnow
from webapp.live.names import (
    ALL_TASKS_ROOM,
    MESSAGE_QUEUE_CHANNEL,
    NAMESPACE,
    SCHEDULER_STATE,
    TASK_CHANGED,
    TASK_UPDATE,
    parse_room,
    task_room,
)

log = logging.getLogger(__name__)

# Events this process sent out, for /metrics (labelled with the process there: each
# process counts its own, from 0 at its start, which Prometheus reads as a restart).
_published = 0
_published_lock = threading.Lock()


def published_count() -> int:
    """How many events :func:`emit` sent out from this process since it started."""
    return _published


def build_payload(seq: int, task: Task, run: TaskRun) -> dict[str, Any]:
    """The ``task_update`` payload for ``run`` as of now (docs/protocol.md)."""
    return {
        "seq": seq,
        "task_id": task.id,
        "task_name": task.name,
        "run_id": run.id,
        "job_id": run.job_id,
        "status": run.status,
        "trigger": run.trigger,
        "progress": run.progress,
        "progress_message": run.progress_message,
        "attempt": run.attempt,
        "max_attempts": run.max_attempts,
        "next_attempt_at": iso(run.next_attempt_at),
        "queued_at": iso(run.queued_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration_ms": run.duration_ms,
        "error": run.error,
        "parent_run_id": run.parent_run_id,
        "waiting": run.waiting,
        "last_run_at": iso(task.last_run_at),
        "next_run_at": iso(task.next_run_at),
        "last_status": task.last_status,
        "emitted_at": None,  # stamped at publish time
    }


def record(task: Task, run: TaskRun) -> Event:
    """Add the event row for the run's current state to the session (no commit).

    The row id becomes ``seq``, so the row is flushed to learn it. On PostgreSQL a
    transaction-scoped advisory lock makes event ids commit in id order, so a client
    replaying ``since`` a seq can never miss a lower seq that commits later.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(db.text("SELECT pg_advisory_xact_lock(7240917)"))
    event = Event(task_id=task.id, run_id=run.id, name=TASK_UPDATE, payload={})
    db.session.add(event)
    db.session.flush()
    event.payload = build_payload(event.id, task, run)
    return event


class _EmitterHolder:
    """One write-only Socket.IO emitter per process (rebuilt after a fork is not needed:
    redis-py reopens its pool in a child)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._emitter: sio.RedisManager | None = None
        self._url: str | None = None

    def get(self, redis_url: str) -> sio.RedisManager:
        with self._lock:
            if self._emitter is None or self._url != redis_url:
                self._emitter = sio.RedisManager(
                    redis_url, channel=MESSAGE_QUEUE_CHANNEL, write_only=True
                )
                self._url = redis_url
            return self._emitter


_holder = _EmitterHolder()


def emitter() -> sio.RedisManager:
    """This process's write-only emitter for the Socket.IO message queue."""
    return _holder.get(current_app.config["REDIS_URL"])


def emit(event: str, payload: dict[str, Any], to: str | list[str], about: str = "",
         local: bool = False) -> bool:
    """Send one server event: every event the server sends goes out here.

    Through the Socket.IO message queue (Redis) to every web process, or with
    ``local=True`` only to this process's own clients. A failed send is logged (naming
    ``about``, e.g. "run 12") and swallowed: what it carried is in the database or in
    Redis already, and clients fetch it with ``subscribe`` when they notice the gap.

    Returns True when the event went out.
    """
    try:
        if local:
            socketio.emit(event, payload, to=to, namespace=NAMESPACE, ignore_queue=True)
        else:
            emitter().emit(event, payload, namespace=NAMESPACE, room=to)
    except Exception:  # the emitter may raise on a dead Redis
        log.exception("%s: publish of %s failed", about or "live channel", event)
        return False
    global _published
    with _published_lock:  # emit runs on several threads (web requests, the fan-out)
        _published += 1
    return True


def publish(payload: dict[str, Any]) -> dict[str, Any]:
    """Send a committed ``task_update`` to room ``tasks`` and its task's room."""
    payload = dict(payload, emitted_at=iso(utcnow(), millis=True))
    emit(TASK_UPDATE, payload, [ALL_TASKS_ROOM, task_room(payload["task_id"])],
         about=f"run {payload.get('run_id')} (seq {payload['seq']})")
    return payload


def publish_task_changed(action: str, task_id: int, row: dict[str, Any] | None) -> None:
    """Tell every page that a task was created, updated or deleted (``row`` is the task
    as the snapshot shows it, or None when deleted).

    Not part of the ``seq`` stream: a page that was disconnected asks for a snapshot
    when it reconnects, which covers any task change it missed.
    """
    payload = {"action": action, "task_id": task_id, "task": row,
               "emitted_at": iso(utcnow(), millis=True)}
    emit(TASK_CHANGED, payload, [ALL_TASKS_ROOM, task_room(task_id)], about=f"task {task_id}")


def publish_scheduler_state(status: dict[str, Any]) -> None:
    """Tell every page that the global pause changed (``{"paused", "since", "by", ...}``)."""
    emit(SCHEDULER_STATE, status, ALL_TASKS_ROOM, about="scheduler")


def head_seq() -> int:
    """The latest event seq (0 when the log is empty)."""
    value = db.session.execute(select(db.func.max(Event.id))).scalar()
    return int(value or 0)


def replay(room: str, since: int, limit: int) -> list[dict[str, Any]]:
    """Events after ``since`` for ``room``, oldest first, at most ``limit``."""
    parsed = parse_room(room)
    query = select(Event).where(Event.id > since, Event.name == TASK_UPDATE)
    if parsed and parsed[0] == "task":
        query = query.where(Event.task_id == parsed[1])
    rows = db.session.execute(query.order_by(Event.id).limit(limit)).scalars()
    sent_at = iso(utcnow(), millis=True)
    return [dict(row.payload, emitted_at=sent_at) for row in rows]


