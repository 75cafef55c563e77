"""A light notice of the latest ``seq``, so a connected client notices a missed tail.

The emitter drops an event when Redis is away, and if that was the last event a page
would never see a gap. Each web process therefore tells its own clients in room
``tasks`` the head of the event log when it moves (and every minute regardless), and a
client whose last applied seq is lower subscribes again with ``since``. Clients in a
task's room (``task:<id>``: the run and history pages) get that task's own head,
``{"head": seq, "task_id": id}``, when the task had events since the last notice.
"""
from __future__ import annotations

import logging
import time
import weakref

from flask import Flask
from sqlalchemy import func, select

from webapp.core.db_retry import LoopErrors
from webapp.core.extensions import db, socketio
from webapp.core.models import Event
from webapp.live import events
from webapp.live.names import ALL_TASKS_ROOM, SEQ_HEAD, TASK_UPDATE, task_room

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
KEEPALIVE_SECONDS = 60.0

def ensure_started(app: Flask) -> None:
    """Start this process's beacon once (called on the first Socket.IO connection)."""
    if app.extensions.get("taskpulse_beacon"):
        return
    app.extensions["taskpulse_beacon"] = True
    # A weak reference, so the loop ends with its app (tests build many apps).
    socketio.start_background_task(_beacon, weakref.ref(app))


def _beacon(app_ref: "weakref.ref[Flask]") -> None:
    # From the head at the first connection: the events after it are the ones a task
    # room's client may have missed (it subscribed with that head or a later one).
    last_head, last_sent = _head_now(app_ref), 0.0
    errors = LoopErrors(log, "seq_head beacon")
    while True:
        socketio.sleep(CHECK_SECONDS)
        app = app_ref()
        if app is None:
            return
        try:
            with app.app_context():
                head = events.head_seq()
                moved = task_heads(last_head, head) if 0 <= last_head < head else []
            now = time.monotonic()
            if head != last_head or now - last_sent >= KEEPALIVE_SECONDS:
                announce(head, moved)
                last_head, last_sent = head, now
            errors.succeeded()
        except Exception as exc:  # the database may be away for a while; keep beating
            errors.failed(exc)
        del app


def _head_now(app_ref: "weakref.ref[Flask]") -> int:
    app = app_ref()
    try:
        with app.app_context():
            return events.head_seq()
    except Exception:  # the database is away: the first beat says everything
        return -1


def task_heads(after: int, upto: int) -> list[tuple[int, int]]:
    """``(task_id, its latest seq)`` for the tasks with events in ``(after, upto]``."""
    rows = db.session.execute(
        select(Event.task_id, func.max(Event.id))
        .where(Event.id > after, Event.id <= upto, Event.name == TASK_UPDATE,
               Event.task_id.is_not(None))
        .group_by(Event.task_id)
    ).all()
    db.session.rollback()
    return [(task_id, seq) for task_id, seq in rows]


def announce(head: int, moved: list[tuple[int, int]]) -> None:
    """Send the notices to this process's own clients (every process sends its own)."""
    events.emit(SEQ_HEAD, {"head": head}, ALL_TASKS_ROOM, about="seq head", local=True)
    for task_id, seq in moved:
        events.emit(SEQ_HEAD, {"head": seq, "task_id": task_id}, task_room(task_id),
                    about=f"task {task_id}", local=True)
