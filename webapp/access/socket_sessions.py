"""Open Socket.IO connections and the credentials they were opened with.

Credentials are checked at connect, but a connection lives for hours: a revoked token,
a changed password, a sign-out or a deactivated user must also end the connections
already open. Each web process re-checks its own connections at once when a
``revocations`` notice says credentials changed, and every ``SWEEP_SECONDS`` regardless
(tokens and sessions also expire with time, and a notice is lost while Redis is away),
and disconnects the ones whose credentials no longer hold.

The sweep walks the connections the Socket.IO server really holds, not only this
registry: a connection with no credentials on record (whatever dropped them) is closed
too, so nothing a client sends can take its socket out of the sweep's sight.
"""
from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from webapp.access import revocations
from webapp.access.auth import Principal, still_valid
from webapp.core.db_retry import LoopErrors
from webapp.core.extensions import socketio
from webapp.core.redis import redis_connection

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30.0  # the periodic sweep: expiry and lost notices (notices act at once)
LISTEN_SECONDS = 5.0  # how long one wait for a notice blocks before the loop looks again


NAMESPACE = "/"


@dataclass
class _Registry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    open: dict[str, tuple[Principal, str]] = field(default_factory=dict)  # sid -> (who, proof)
    started: bool = False
    # The python-socketio server whose connections the sweep walks (tests re-initialise
    # the shared extension with new apps; each app's sweep keeps to its own server).
    server: Any = None


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
        registry.server = socketio.server
    # A weak reference, so the loops end with their app (tests build many apps).
    socketio.start_background_task(_sweep_forever, weakref.ref(app))
    if app.config.get("CREDENTIAL_NOTICES", True):
        socketio.start_background_task(_listen_forever, weakref.ref(app))


def is_fully_connected(server: Any, sid: str) -> bool:
    """True once ``sid`` has connected and until its disconnect begins."""
    return bool(server.manager.is_connected(sid, NAMESPACE))


def held_connections(server: Any) -> tuple[set[str], set[str]]:
    """The sids ``server`` holds in this process: (all of them, the fully connected).

    A connection being set up or torn down is held but not fully connected; a client's
    own events only reach handlers once it is fully connected.
    """
    manager = server.manager
    held = {sid for sid, _eio_sid in manager.get_participants(NAMESPACE, None)}
    return held, {sid for sid in held if is_fully_connected(server, sid)}


def sweep(app: Flask) -> int:
    """Disconnect every connection whose credentials no longer hold, or that has none on
    record; forget records of connections the server no longer holds. Returns how many
    connections were dropped."""
    registry = _registry(app)
    server = registry.server or socketio.server
    held, connected = held_connections(server)
    with registry.lock:
        for sid in set(registry.open) - held:
            del registry.open[sid]
        entries = {sid: registry.open.get(sid) for sid in connected}
    dropped = 0
    verdicts: dict[tuple[Principal, str], bool] = {}  # many sockets share one credential
    with app.app_context():
        for sid, entry in entries.items():
            if entry is None:
                log.warning("socket %s: no credentials on record, disconnecting", sid)
            else:
                if entry not in verdicts:
                    verdicts[entry] = still_valid(*entry)
                if verdicts[entry]:
                    continue
                log.info("socket %s of %s: credentials no longer valid, disconnecting", sid, entry[0].username)
            forget(sid, app)
            server.disconnect(sid, namespace=NAMESPACE)
            dropped += 1
    return dropped


def _sweep_forever(app_ref: "weakref.ref[Flask]") -> None:
    errors = LoopErrors(log, "socket credential sweep")
    while True:
        socketio.sleep(SWEEP_SECONDS)
        app = app_ref()
        if app is None:
            return
        try:
            sweep(app)
            errors.succeeded()
        except Exception as exc:  # the database may be away; try again next time
            errors.failed(exc)
        del app


def _listen_forever(app_ref: "weakref.ref[Flask]") -> None:
    """Sweep at once on each credentials notice (Redis pub/sub), reconnecting after a
    Redis outage; returns when the app is gone."""
    warned = False
    while True:
        app = app_ref()
        if app is None:
            return
        try:
            with app.app_context():
                pubsub = redis_connection().pubsub(ignore_subscribe_messages=True)
            del app
            pubsub.subscribe(revocations.CHANNEL)
            try:
                while True:
                    message = pubsub.get_message(timeout=LISTEN_SECONDS)
                    app = app_ref()
                    if app is None:
                        return
                    warned = False
                    if message is not None:
                        log.info("credentials changed (%s): sweeping now", message.get("data"))
                        sweep(app)
                    del app
            finally:
                pubsub.close()
        except Exception as exc:  # Redis away; the periodic sweep still runs
            if not warned:  # once per outage, not once a second
                log.warning("credential notices: not listening (%s); retrying", exc)
                warned = True
            socketio.sleep(1.0)
