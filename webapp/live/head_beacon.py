"""The ``seq_head`` notice, sent only when an event was really dropped.

The emitter drops an event when Redis is away (or the publishing process cannot reach
it), and if that was the last event a page would never see a gap. Every event is in the
event log, though, and every ``task_update`` a web process receives passes its client
manager (:class:`webapp.live.fanout.CoalescingRedisManager`), which remembers the seqs
it handled. So each web process compares, every :data:`CHECK_SECONDS`, the events the
log gained up to the head it read at the previous check (committed at least that long
ago: anything published has arrived by then) with the seqs it handled. Only when some
never came does it tell its own clients: room ``tasks`` gets the head of the log,
``{"head": seq}``, and each task room whose events were dropped gets that task's head,
``{"head": seq, "task_id": id}``; a client whose last applied seq is lower subscribes
again with ``since``. While nothing is dropped, no notice goes to any page: an idle page
costs the server nothing but Engine.IO's pings. The check itself is one indexed query
per web process, not per page.

(It used to announce the head every 5 s when it moved and every minute regardless: at
500 open pages, 500 messages a minute for nothing, and 500 more each time it moved.)
"""
from __future__ import annotations

import logging
import weakref

from flask import Flask
from sqlalchemy import select

from webapp.core.db_retry import LoopErrors
from webapp.core.extensions import db, socketio
from webapp.core.models import Event
from webapp.live import events
from webapp.live.names import ALL_TASKS_ROOM, SEQ_HEAD, TASK_UPDATE, task_room

log = logging.getLogger(__name__)

CHECK_SECONDS = 2.5
# At most this many log rows are compared per check (an outage's backlog is compared over
# the following checks; each check announces what it found).
CHECK_ROWS = 20_000


def ensure_started(app: Flask) -> None:
    """Start this process's beacon once (called on the first Socket.IO connection)."""
    if app.extensions.get("taskpulse_beacon"):
        return
    app.extensions["taskpulse_beacon"] = True
    # A weak reference, so the loop ends with its app (tests build many apps).
    socketio.start_background_task(_beacon, weakref.ref(app))


def _beacon(app_ref: "weakref.ref[Flask]") -> None:
    # From the head at the first connection: the events after it are the ones this
    # process's clients (subscribed with that head or a later one) may have missed.
    checked = _head_now(app_ref)
    previous = checked
    errors = LoopErrors(log, "seq_head beacon")
    while True:
        socketio.sleep(CHECK_SECONDS)
        app = app_ref()
        if app is None:
            return
        try:
            with app.app_context():
                head = events.head_seq()
                if checked < 0:  # the database was away at the start
                    checked = previous = head
                rows = log_rows(checked, previous) if checked < previous else []
            truncated = len(rows) >= CHECK_ROWS
            upto = rows[-1][0] if truncated else previous
            dropped = dropped_rows(rows, upto)
            if dropped:
                announce(head, task_heads(dropped))
            checked = upto
            if not truncated:  # else the rest of (checked, previous] comes next time
                previous = head
            errors.succeeded()
        except Exception as exc:  # the database may be away for a while; keep checking
            errors.failed(exc)
        del app


def _head_now(app_ref: "weakref.ref[Flask]") -> int:
    app = app_ref()
    try:
        with app.app_context():
            return events.head_seq()
    except Exception:  # the database is away: the first check starts from its head then
        return -1


def log_rows(after: int, upto: int) -> list[tuple[int, int | None]]:
    """``(seq, task_id)`` of the ``task_update`` events in ``(after, upto]``, oldest first
    (at most :data:`CHECK_ROWS`)."""
    rows = db.session.execute(
        select(Event.id, Event.task_id)
        .where(Event.id > after, Event.id <= upto, Event.name == TASK_UPDATE)
        .order_by(Event.id).limit(CHECK_ROWS)
    ).all()
    db.session.rollback()
    return [(seq, task_id) for seq, task_id in rows]


def dropped_rows(rows: list[tuple[int, int | None]], upto: int) -> list[tuple[int, int | None]]:
    """The rows whose event this process's client manager never handled (all of them
    when the manager keeps no record: then every new event counts as possibly missed)."""
    manager = getattr(socketio.server, "manager", None) if socketio.server is not None else None
    missing = getattr(manager, "missing", None)
    if missing is None:
        return rows
    absent = set(missing([seq for seq, _ in rows], upto))
    return [row for row in rows if row[0] in absent]


def task_heads(rows: list[tuple[int, int | None]]) -> list[tuple[int, int]]:
    """``(task_id, its latest seq)`` among ``rows``."""
    heads: dict[int, int] = {}
    for seq, task_id in rows:
        if task_id is not None:
            heads[task_id] = max(seq, heads.get(task_id, 0))
    return sorted(heads.items())


def announce(head: int, moved: list[tuple[int, int]]) -> None:
    """Send the notices to this process's own clients (every process sends its own)."""
    events.emit(SEQ_HEAD, {"head": head}, ALL_TASKS_ROOM, about="seq head", local=True)
    for task_id, seq in moved:
        events.emit(SEQ_HEAD, {"head": seq, "task_id": task_id}, task_room(task_id),
                    about=f"task {task_id}", local=True)
