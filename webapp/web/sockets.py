"""Socket.IO handlers: who may connect (``connect``), and ``subscribe`` (join a room and
get what was missed). Everything the server sends (``task_update`` and the rest) goes out
through :mod:`webapp.live.events` and the Redis message queue."""
from __future__ import annotations

import logging
from typing import Any

from flask import current_app, request, session
from flask_socketio import ConnectionRefusedError, join_room, leave_room, rooms
from sqlalchemy.exc import DBAPIError

from webapp.access import socket_sessions
from webapp.access.auth import Principal, browser_principal, credentials_from_header, proof_of
from webapp.alerts import outbox, watchdog
from webapp.core.db_retry import is_outage
from webapp.core.errors import ApiError
from webapp.core.extensions import db, socketio
from webapp.core.models import AuditEntry, Task, TaskRun
from webapp.live import client_monitor, events, fanout, head_beacon, panels, snapshot, stats, subscribe_limits
from webapp.live.names import (
    AUDIT_ROOM,
    BATCH_ROOM,
    MESSAGE_QUEUE_CHANNEL,
    NOTIFICATIONS_ROOM,
    parse_room,
    run_room,
)
from webapp.runs import output, pools
from webapp.scheduling import pause

log = logging.getLogger(__name__)

# A refusal the page shows and retries after the wait it names (static/js/live).
DATABASE_UNAVAILABLE = "database unavailable: cannot sync now; try again in 2 s"


def sent_by_client() -> bool:
    """True when the ``connect`` or ``disconnect`` handler was reached by an ordinary
    event a client emitted under that name: python-socketio hands such events to the same
    handlers. A real connect or disconnect runs while the server holds the connection as
    pending (set up or torn down); a client's own events arrive only once it is fully
    connected."""
    if socket_sessions.is_fully_connected(socketio.server, request.sid):
        log.warning("socket %s: ignored a client-sent %r event", request.sid, request.event["message"])
        return True
    return False


def handle_connect(auth: Any = None) -> None:
    """A client opens a connection: it must prove who it is, with the page's session
    cookie, an ``Authorization`` header (Bearer or Basic), or ``auth={"token": ...}``.
    A client-sent event named ``connect`` is ignored.

    Raises:
        ConnectionRefusedError: no or bad credentials (the client sees the reason).
    """
    if sent_by_client():
        return
    try:
        _connect(auth)
    except DBAPIError as exc:
        if not is_outage(exc):
            raise
        _after_outage(exc)
        raise ConnectionRefusedError(DATABASE_UNAVAILABLE) from None


def _connect(auth: Any) -> None:
    try:
        principal = None
        if isinstance(auth, dict) and isinstance(auth.get("token"), str):
            principal = credentials_from_header(f"Bearer {auth['token']}")
        elif request.headers.get("Authorization"):
            principal = credentials_from_header(request.headers["Authorization"])
        else:
            principal = browser_principal()
    except ApiError as exc:
        raise ConnectionRefusedError(exc.message) from None
    if principal is None:
        raise ConnectionRefusedError("authentication required: sign in or send a token")
    app = current_app._get_current_object()
    head_beacon.ensure_started(app)
    client_monitor.ensure_started(app)
    socket_sessions.ensure_started(app)
    header = f"Bearer {auth['token']}" if principal.via == "token" and isinstance(auth, dict) \
        else request.headers.get("Authorization")
    socket_sessions.register(request.sid, principal, proof_of(principal, header))
    # Flask-SocketIO keeps this session per connection, server-side.
    session["socket_principal"] = [principal.user_id, principal.username, principal.role, principal.via]


def handle_disconnect(*_: Any) -> None:
    """The connection closed: forget its credentials. A client-sent event named
    ``disconnect`` is ignored (it would otherwise hide the socket from the sweep)."""
    if sent_by_client():
        return
    socket_sessions.forget(request.sid)


def _principal() -> Principal | None:
    stored = session.get("socket_principal")
    return Principal(*stored) if stored else None


def _refuse(reason: str) -> dict[str, Any]:
    return {"ok": False, "error": reason}


def _since(value: Any) -> int | None:
    """The client's last applied seq: None, or a non-negative integer."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("since must be null or a non-negative integer")
    return value


def handle_subscribe(data: Any = None, *extra: Any) -> dict[str, Any]:
    """Sent by a page (or any client) on every connect and reconnect.

    Joins the room and acknowledges with the events missed after ``since``, so the
    client is in sync without a REST call. ``{"snapshot": true}`` also returns the
    current task rows, which the page's Refresh uses. ``{"batch": true}`` (room
    ``tasks`` only) switches the connection to ``task_updates`` batches (see
    :mod:`webapp.live.fanout`); a subscribe to ``tasks`` without it switches back.
    While the database is away it is refused (:data:`DATABASE_UNAVAILABLE`) and the
    connection stays open: the page says so and asks again.
    """
    try:
        return _subscribe(data, *extra)
    except DBAPIError as exc:
        if not is_outage(exc):
            raise
        _after_outage(exc)
        return _refuse(DATABASE_UNAVAILABLE)


def _after_outage(exc: DBAPIError) -> None:
    """Log a socket handler's meeting with a database outage; drop the broken session."""
    try:
        db.session.rollback()
    except Exception:  # the connection is gone: nothing to undo
        pass
    log.warning("socket %s: %s: database unavailable (%s)", request.sid, getattr(request, "event", {}).get("message"),
                str(exc.orig or exc).splitlines()[0][:200])


def _subscribe(data: Any, *extra: Any) -> dict[str, Any]:
    principal = _principal()
    if principal is None or not socket_sessions.valid(request.sid):
        # Stop hearing anything now; the credential sweep closes the connection soon.
        for room in rooms():
            if room != request.sid:
                leave_room(room)
        return _refuse("not signed in (credentials revoked or expired)")
    limited = subscribe_limits.rate_limited(session)
    if limited:
        return _refuse(limited)
    if not isinstance(data, dict) or extra:
        return _refuse("payload must be one object: {room, since}")
    room = data.get("room")
    try:
        since = _since(data.get("since"))
    except ValueError as exc:
        return _refuse(str(exc))
    if room == AUDIT_ROOM:
        return _subscribe_audit(principal, since)
    if room == NOTIFICATIONS_ROOM:
        return _subscribe_notifications(principal, since, data.get("snapshot") is True)
    parsed = parse_room(room)
    if parsed is None:
        return _refuse(f"unknown room {str(room)[:80]!r}: use 'tasks', 'task:<id>', 'run:<id>', "
                       "'audit' or 'notifications'")
    if parsed[0] == "run":
        return _subscribe_run(parsed[1], data)
    if parsed[0] == "task" and db.session.get(Task, parsed[1]) is None:
        return _refuse(f"no task with id {parsed[1]}")
    batch = data.get("batch", False)
    if not isinstance(batch, bool):
        return _refuse("batch must be true or false")
    batch = batch and parsed[0] == "tasks"
    if batch:
        # The batch room first: an event handled in between then reaches this
        # connection in a batch, never both ways.
        join_room(BATCH_ROOM)
    join_room(room)
    if not batch and parsed[0] == "tasks" and BATCH_ROOM in rooms():
        leave_room(BATCH_ROOM)  # the latest subscribe to 'tasks' decides
    head = events.head_seq()
    limit = current_app.config["REPLAY_LIMIT"]
    missed = events.replay(room, since, limit) if since is not None and since < head else []
    ack: dict[str, Any] = {"ok": True, "head": head, "events": missed}
    if batch:
        ack["batch"] = True  # absent otherwise: old acks stay as they were
    if data.get("snapshot") is True:
        ack["tasks"] = snapshot.task_rows(parsed[1])
        ack["scheduler"] = pause.scheduler_status()
        if parsed[0] == "tasks":
            ack["panels"] = panels.panels()
            ack["alerts"] = watchdog.current_badges()
            ack["queues"] = pools.queue_report()
        else:
            ack["stats"] = stats.task_stats(parsed[1])
    if subscribe_limits.fit_items(ack, "events") or len(missed) >= limit:
        # More were missed than one ack carries: the client subscribes again from the
        # last seq it got.
        ack["truncated"] = True
    return ack


def _subscribe_run(run_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Room ``run:<id>`` (any signed-in user): live ``run_output`` lines of one run.

    The ack carries the run as the API shows it and the lines after ``after`` (a line
    number; null for all that are kept), so a late viewer catches up without REST.
    The room is joined before the lines are read, so none can fall in between.
    """
    try:
        after = _since(data.get("after"))
    except ValueError:
        return _refuse("after must be null or a non-negative integer (a line number)")
    run = db.session.get(TaskRun, run_id)
    if run is None:
        return _refuse(f"no run with id {run_id}")
    join_room(run_room(run_id))
    ack = {"ok": True, "head": events.head_seq(), "events": [], "run": run.to_dict(),
           "output": output.catch_up(run, after)}
    if subscribe_limits.fit_items(ack, "lines", keep="newest", holder=ack["output"]):
        ack["output"]["truncated"] = True  # older lines exist: the page says so
    return ack


def _subscribe_audit(principal: Principal, since: int | None) -> dict[str, Any]:
    """Room ``audit`` (admins only): live ``audit_entry`` events; replay by entry id."""
    if not principal.can("admin"):
        return _refuse("room 'audit' is for admins")
    join_room(AUDIT_ROOM)
    head = db.session.execute(db.select(db.func.max(AuditEntry.id))).scalar() or 0
    missed = []
    limit = current_app.config["REPLAY_LIMIT"]
    if since is not None and since < head:
        rows = db.session.execute(
            db.select(AuditEntry).where(AuditEntry.id > since).order_by(AuditEntry.id).limit(limit)
        ).scalars()
        missed = [row.to_dict() for row in rows]
    ack = {"ok": True, "head": head, "events": missed}
    if subscribe_limits.fit_items(ack, "events") or len(missed) >= limit:
        ack["truncated"] = True  # the page asks again from the last entry id it got
    return ack


def _subscribe_notifications(principal: Principal, since: int | None, snapshot: bool) -> dict[str, Any]:
    """Room ``notifications`` (operators and admins): live ``notification`` events as
    outbox rows are created and change; replay by row id (the rows after ``since``, as
    they are now). ``snapshot`` adds the newest rows as they are now (``rows``), so a
    page that reconnects also sees the rows it knew that changed meanwhile."""
    if not principal.can("operator"):
        return _refuse("room 'notifications' is for operators and admins")
    join_room(NOTIFICATIONS_ROOM)
    head = outbox.head()
    limit = current_app.config["REPLAY_LIMIT"]
    missed = outbox.since(since, limit) if since is not None and since < head else []
    ack = {"ok": True, "head": head, "events": missed}
    if snapshot:
        ack["rows"] = outbox.recent(100)
    if subscribe_limits.fit_items(ack, "events") or len(missed) >= limit:
        ack["truncated"] = True  # the page asks again from the last row id it got
    return ack


def client_manager(redis_url: str, adaptive: bool = True) -> fanout.CoalescingRedisManager:
    """The Socket.IO server's client manager: the Redis message queue (channel
    ``flask-socketio``) that also sends ``task_updates`` batches to the connections that
    subscribed to ``tasks`` with ``"batch": true``, in a window sized to what a batch
    costs to send (none for a few pages, up to 100 ms at a thousand), or with
    ``adaptive`` False always the full window."""
    return fanout.CoalescingRedisManager(redis_url, channel=MESSAGE_QUEUE_CHANNEL, adaptive=adaptive)


def register(sio=socketio) -> None:
    """Attach the handlers to the Socket.IO server."""
    sio.on_event("connect", handle_connect, namespace="/")
    sio.on_event("disconnect", handle_disconnect, namespace="/")
    sio.on_event("subscribe", handle_subscribe, namespace="/")
