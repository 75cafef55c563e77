"""Open Socket.IO connections and the credentials they were opened with.

Credentials are checked at connect, but a connection lives for hours: a revoked token,
a changed password, a sign-out or a deactivated user must also end the connections
already open. Each web process re-checks its own connections every few seconds and
disconnects the ones whose credentials no longer hold.
"""
from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass, field

from flask import Flask, current_app

from .auth import Principal, still_valid
from .extensions import socketio

log = logging.getLogger(__name__)

SWEEP_SECONDS = 5.0


@dataclass
class _Registry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    open: dict[str, tuple[Principal, str]] = field(default_factory=dict)  # sid -> (who, proof)
    started: bool = False


def _registry(app: Flask | None = None) -> _Registry:
    app = app or current_app._get_current_object()
    return app.extensions.setdefault("taskpulse_sockets", _Registry())


def register(sid: str, principal: Principal, proof: str) -> None:
    """Remember a new connection (called from the connect handler)."""
    registry = _registry()
    with registry.lock:
        registry.open[sid] = (principal, proof)


def forget(sid: str, app: Flask | None = None) -> None:
    """Drop a closed connection."""
    registry = _registry(app)
    with registry.lock:
        registry.open.pop(sid, None)


def valid(sid: str) -> bool:
    """True while the connection's credentials still hold."""
    registry = _registry()
    with registry.lock:
        entry = registry.open.get(sid)
    return entry is not None and still_valid(*entry)


def ensure_started(app: Flask) -> None:
    """Start this process's sweep for ``app`` once (on the first connection)."""
    registry = _registry(app)
    with registry.lock:
        if registry.started:
            return
        registry.started = True
    # A weak reference, so the loop ends with its app (tests build many apps).
    socketio.start_background_task(_sweep_forever, weakref.ref(app))


def sweep(app: Flask) -> int:
    """Disconnect every connection whose credentials no longer hold; return how many."""
    registry = _registry(app)
    with registry.lock:
        entries = list(registry.open.items())
    dropped = 0
    verdicts: dict[tuple[Principal, str], bool] = {}  # many sockets share one credential
    with app.app_context():
        for sid, (principal, proof) in entries:
            key = (principal, proof)
            if key not in verdicts:
                verdicts[key] = still_valid(principal, proof)
            if not verdicts[key]:
                log.info("socket %s of %s: credentials no longer valid, disconnecting", sid, principal.username)
                forget(sid, app)
                socketio.server.disconnect(sid, namespace="/")
                dropped += 1
    return dropped


def _sweep_forever(app_ref: "weakref.ref[Flask]") -> None:
    while True:
        socketio.sleep(SWEEP_SECONDS)
        app = app_ref()
        if app is None:
            return
        try:
            sweep(app)
        except Exception:  # the database may be away; try again next time
            log.exception("socket credential sweep failed")
        del app
