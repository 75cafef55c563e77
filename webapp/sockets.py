"""Socket.IO handlers. The server only receives ``subscribe``; ``task_update`` is sent
by :mod:`webapp.events` through the Redis message queue."""
from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from flask_socketio import join_room

from . import events, snapshot
from .extensions import db, socketio
from .models import Task

log = logging.getLogger(__name__)


def _refuse(reason: str) -> dict[str, Any]:
    return {"ok": False, "error": reason}


def _since(value: Any) -> int | None:
    """The client's last applied seq: None, or a non-negative integer."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("since must be null or a non-negative integer")
    return value


def handle_subscribe(data: Any) -> dict[str, Any]:
    """Sent by a page (or any client) on every connect and reconnect.

    Joins the room and acknowledges with the events missed after ``since``, so the
    client is in sync without a REST call. ``{"snapshot": true}`` also returns the
    current task rows, which the page's Refresh uses.
    """
    if not isinstance(data, dict):
        return _refuse("payload must be an object: {room, since}")
    room = data.get("room")
    parsed = events.parse_room(room)
    if parsed is None:
        return _refuse(f"unknown room {str(room)[:80]!r}: use 'tasks' or 'task:<id>'")
    try:
        since = _since(data.get("since"))
    except ValueError as exc:
        return _refuse(str(exc))
    if parsed[0] == "task" and db.session.get(Task, parsed[1]) is None:
        return _refuse(f"no task with id {parsed[1]}")
    join_room(room)
    head = events.head_seq()
    limit = current_app.config["REPLAY_LIMIT"]
    missed = events.replay(room, since, limit) if since is not None and since < head else []
    ack: dict[str, Any] = {"ok": True, "head": head, "events": missed}
    if len(missed) >= limit:
        # More were missed than one ack carries: the client subscribes again from the
        # last seq it got.
        ack["truncated"] = True
    if data.get("snapshot") is True:
        ack["tasks"] = snapshot.task_rows(parsed[1])
    return ack


def register(sio=socketio) -> None:
    """Attach the handlers to the Socket.IO server."""
    sio.on_event("subscribe", handle_subscribe, namespace="/")
