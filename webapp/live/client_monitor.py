"""Closing the connections whose client stopped answering Engine.IO's pings, in one
sweep every :data:`SWEEP_SECONDS` instead of Engine.IO's own monitor.

python-engineio's monitor task visits the connections one at a time, spread over its
ping timeout: at N connections it wakes N / 20 times a second (25 times a second at
500 idle pages, each wake-up a timer, an event and a copy of the socket table), which
was a third of an idle server's CPU. The server is built with ``monitor_clients=False``
(:mod:`webapp.web.mount`) and this task does the same check for every connection at
once: a client that stopped answering is closed within ping interval + ping timeout +
:data:`SWEEP_SECONDS` (Engine.IO's own took up to a whole ping timeout more).
"""
from __future__ import annotations

import logging
import weakref

from flask import Flask

from webapp.core.extensions import socketio

log = logging.getLogger(__name__)

SWEEP_SECONDS = 5.0


def ensure_started(app: Flask) -> None:
    """Start this process's sweep once (called on the first Socket.IO connection)."""
    if app.extensions.get("taskpulse_client_monitor"):
        return
    app.extensions["taskpulse_client_monitor"] = True
    socketio.start_background_task(_sweep_forever, weakref.ref(app))


def _sweep_forever(app_ref: "weakref.ref[Flask]") -> None:
    while app_ref() is not None:
        socketio.sleep(SWEEP_SECONDS)
        try:
            sweep()
        except Exception:  # the next sweep tries again
            log.exception("client monitor: sweep failed")


def sweep() -> int:
    """Close every connection whose client missed its ping timeout and forget the
    closed ones (what Engine.IO's monitor does, all at once). Returns how many closed."""
    server = socketio.server
    eio = getattr(server, "eio", None) if server is not None else None
    sockets = getattr(eio, "sockets", None)
    if sockets is None:
        return 0
    closed = 0
    for sid, sock in list(sockets.items()):
        if sock.closed:
            sockets.pop(sid, None)
        elif not sock.closing and not sock.check_ping_timeout():
            closed += 1
    return closed
