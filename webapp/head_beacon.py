"""A light notice of the latest ``seq``, so a connected client notices a missed tail.

The emitter drops an event when Redis is away, and if that was the last event a page
would never see a gap. Each web process therefore tells its own clients in room
``tasks`` the head of the event log when it moves (and every minute regardless), and a
client whose last applied seq is lower subscribes again with ``since``.
"""
from __future__ import annotations

import logging
import time
import weakref

from flask import Flask

from . import events
from .extensions import socketio

log = logging.getLogger(__name__)

BEACON_EVENT = "seq_head"
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
    last_head, last_sent = -1, 0.0
    while True:
        socketio.sleep(CHECK_SECONDS)
        app = app_ref()
        if app is None:
            return
        try:
            with app.app_context():
                head = events.head_seq()
            now = time.monotonic()
            if head != last_head or now - last_sent >= KEEPALIVE_SECONDS:
                # ignore_queue: only this process's clients; every process sends its own.
                socketio.emit(BEACON_EVENT, {"head": head}, to=events.ALL_TASKS_ROOM,
                              namespace="/", ignore_queue=True)
                last_head, last_sent = head, now
        except Exception:  # the database may be away for a while; keep beating
            log.exception("seq_head beacon failed")
        del app
