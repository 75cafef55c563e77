"""Coalesced fan-out of ``task_update`` for connections that asked for batches.

Every ``task_update`` goes to room ``tasks``, so at N connections and E events a second
the server sends N x E Socket.IO messages, and each message has a fixed cost (a packet
per socket, a send queue hand-off, a WebSocket frame, a wake-up of that connection's
writer) that does not depend on its size. A connection that subscribes to ``tasks`` with
``"batch": true`` (see :mod:`webapp.web.sockets`) also joins :data:`BATCH_ROOM`; this client
manager then delivers the ``task_update`` events of room ``tasks`` to it as
``task_updates`` messages, ``{"events": [payload, ...]}`` in ``seq`` order, at most one
per window: :data:`WINDOW_SECONDS`, or, for the server's own manager (adaptive), a window
sized to what a batch costs to send (:data:`COST_FACTOR`), so a quiet or small room gets
every event at once and only a room whose sends are dear waits up to the full window:

- leading edge: the first event after a quiet window goes out at once, alone, so a
  single run's latency is what it was;
- trailing edge: events arriving while the window is open are held and sent together
  when it closes, which opens the next window.

Connections that did not opt in keep getting each ``task_update`` the moment it arrives,
exactly as before. A batch subscriber is left out of that immediate delivery even when
it also joined ``task:<id>`` rooms, so an event reaches it once, in a batch.

Anything else sent to room ``tasks`` (``task_changed``, ``scheduler_state``, the
``seq_head`` notice) first flushes the held events, so every connection sees the
server's events in the order the server handled them: a ``seq_head`` never overtakes the
events it counts.

The ``seq_head`` notice is also held back while the head it announces is still on its
way through the message queue (the beacon reads the head from the database, which is
ahead of the Redis hop by a few milliseconds): it goes out once this manager has handled
that ``seq``, or after :data:`HEAD_GRACE_SECONDS` if the event really was lost. Sent
early, it made every client in room ``tasks`` subscribe again at the same moment (1,000
replay queries at 1,000 clients, seconds of server time) for events that were arriving
anyway.

Events reach the Socket.IO server through the Redis message queue from the web and
worker processes (:func:`webapp.live.events.publish`); the coalescing happens here, in the
receiving server process, per process. Only the Socket.IO server's own async primitives
(``start_background_task``, ``sleep``) are used, so it runs the same under eventlet,
gevent and threading.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Iterable

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet
from socketio.manager import Manager

from webapp.live.names import ALL_TASKS_ROOM, BATCH_ROOM, NAMESPACE, SEQ_HEAD, TASK_UPDATE
from webapp.live.names import TASK_UPDATES as BATCH_EVENT

log = logging.getLogger(__name__)

WINDOW_SECONDS = 0.1
# The adaptive window (the server's client manager, webapp.web.sockets.client_manager):
# a batch window this many times as long as handing the last batches to the batch room
# took, capped at WINDOW_SECONDS. A room of a few pages costs microseconds a batch, so
# its events go out at once, one by one; at 1,000 pages a batch costs ~25 ms of hand-off
# and the window grows to the cap, so that fan-out keeps to a share of the server.
COST_FACTOR = 4.0
COST_WEIGHT = 0.3  # weight of the newest batch in the moving average of the cost
# The python-socketio internals this manager relies on, with the signatures it calls
# them with; tests/unit/test_fanout_internals.py fails, naming the one that changed,
# when an upgrade moves them. Everything else it uses is public API.
SOCKETIO_INTERNALS = {
    # overridden: every emit, from the message queue or from this process, passes here
    "socketio.PubSubManager._handle_emit": "(self, message)",
    # called: hands one encoded packet to one connection (the batch path encodes once)
    "socketio.Server._send_eio_packet": "(self, eio_sid, eio_pkt)",
}
HEAD_GRACE_SECONDS = 2.0


def _room_list(room: Any) -> list[Any] | None:
    """The rooms of an emit as a list (None: broadcast to the whole namespace)."""
    if room is None:
        return None
    if isinstance(room, (list, tuple)):
        return list(room)
    return [room]


def _reaches_tasks(room: Any) -> bool:
    rooms = _room_list(room)
    return rooms is None or ALL_TASKS_ROOM in rooms


class CoalescingRedisManager(socketio.RedisManager):
    """python-socketio's :class:`socketio.RedisManager`, plus coalesced delivery of
    ``task_update`` to the members of :data:`BATCH_ROOM`.

    Args:
        url: the Redis URL of the message queue.
        channel: the message queue channel (``flask-socketio`` for Taskpulse).
        window: the coalescing window in seconds (the longest one, when adaptive).
        adaptive: size the window to what a batch costs to send (:data:`COST_FACTOR`).
        **kwargs: passed to :class:`socketio.RedisManager`.
    """

    name = "redis+coalescing"

    def __init__(self, url: str, channel: str = "flask-socketio", window: float = WINDOW_SECONDS,
                 adaptive: bool = False, **kwargs: Any) -> None:
        super().__init__(url, channel=channel, **kwargs)
        self.max_window = window
        self.adaptive = adaptive
        self._batch_cost = 0.0  # moving average of the seconds one batch send took
        # Held while deciding and while handing packets to the send queues (never
        # blocks: each send is a queue put), so batches leave in order whichever task
        # flushes. Monkey-patched into a green lock under eventlet and gevent.
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._window_end = 0.0
        self._flusher_running = False
        self._handled_seq = 0  # the highest task_update seq this manager has handled
        # Every task_update seq handled above the beacon's watermark (webapp.live.head_beacon
        # asks which of the log's events never came: those are the dropped ones).
        self._handled: set[int] = set()
        self._handled_floor = 0
        self._held_head: tuple[dict[str, Any], Any, float] | None = None  # (notice, room, deadline)

    # -- entry points ------------------------------------------------------------------

    def _handle_emit(self, message: dict[str, Any]) -> None:
        """An emit from the message queue (or from this process's ``emit``)."""
        event = message.get("event")
        room = message.get("room")
        if event == TASK_UPDATE:
            self._record_handled(message.get("data"))
        if (event == TASK_UPDATE and message.get("callback") is None and not message.get("binary")
                and (message.get("namespace") or NAMESPACE) == NAMESPACE):
            data = message.get("data")
            payload = data[0] if isinstance(data, list) and len(data) == 1 else None
            if self._coalescable(payload, room, message.get("skip_sid")):
                self._fan_out(payload, room)
                return
        if (message.get("namespace") or NAMESPACE) == NAMESPACE and _reaches_tasks(room):
            self.flush()
        super()._handle_emit(message)

    def emit(self, event: str, data: Any, namespace: str | None = None, room: Any = None,
             skip_sid: Any = None, callback: Any = None, to: Any = None, **kwargs: Any) -> None:
        """As :meth:`socketio.PubSubManager.emit`. Local-only emits (``ignore_queue``,
        e.g. the ``seq_head`` notice) skip ``_handle_emit``, so they are routed here."""
        if kwargs.get("ignore_queue"):
            target = to or room
            if event == TASK_UPDATE:
                self._record_handled(data)
            if (event == TASK_UPDATE and callback is None and (namespace or NAMESPACE) == NAMESPACE
                    and self._coalescable(data, target, skip_sid)):
                self._fan_out(data, target)
                return
            # Only notices to room tasks wait: only its events are coalesced (a task
            # room's own notice goes out as it is).
            if (event == SEQ_HEAD and callback is None and not skip_sid
                    and _room_list(target) == [ALL_TASKS_ROOM]
                    and (namespace or NAMESPACE) == NAMESPACE and self._hold_head(data, target)):
                return
            if (namespace or NAMESPACE) == NAMESPACE and _reaches_tasks(target):
                self.flush()
        super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid,
                     callback=callback, to=to, **kwargs)

    def flush(self) -> None:
        """Send the held events to the batch subscribers now (the window stays open)."""
        with self._lock:
            if self._pending:
                batch, self._pending = self._pending, []
                self._send_batch(batch)

    # -- delivery ----------------------------------------------------------------------

    @staticmethod
    def _coalescable(payload: Any, room: Any, skip_sid: Any) -> bool:
        rooms = _room_list(room)
        return (isinstance(payload, dict) and isinstance(payload.get("seq"), int)
                and rooms is not None and ALL_TASKS_ROOM in rooms and not skip_sid)

    def _record_handled(self, data: Any) -> None:
        payload = data[0] if isinstance(data, list) and len(data) == 1 else data
        if isinstance(payload, dict) and isinstance(payload.get("seq"), int):
            with self._lock:
                if payload["seq"] > self._handled_floor:
                    self._handled.add(payload["seq"])

    def missing(self, seqs: Iterable[int], floor: int) -> list[int]:
        """Which of ``seqs`` (event log ids) this manager never handled; then forget
        everything up to ``floor`` (the caller has checked up to there)."""
        with self._lock:
            absent = [seq for seq in seqs if seq not in self._handled]
            if floor > self._handled_floor:
                self._handled_floor = floor
                self._handled = {seq for seq in self._handled if seq > floor}
        return absent

    def _saw(self, payload: Any) -> None:
        if isinstance(payload, dict) and isinstance(payload.get("seq"), int):
            self._handled_seq = max(self._handled_seq, payload["seq"])

    def _hold_head(self, notice: Any, room: Any) -> bool:
        """Hold a ``seq_head`` notice whose head this manager has not handled yet;
        False when it may go out now."""
        if not isinstance(notice, dict) or not isinstance(notice.get("head"), int):
            return False
        with self._lock:
            if notice["head"] <= self._handled_seq:
                return False
            start = self._held_head is None
            # A newer notice replaces a held one but keeps its deadline: a lost event is
            # announced within the grace period whatever follows it.
            deadline = time.monotonic() + HEAD_GRACE_SECONDS if start else self._held_head[2]
            self._held_head = (notice, room, deadline)
        if start:
            self.server.start_background_task(self._release_head)
        return True

    def _release_head(self) -> None:
        """Send the held ``seq_head`` once its head was handled, or at its deadline."""
        try:
            while True:
                with self._lock:
                    notice, room, deadline = self._held_head
                    if notice["head"] <= self._handled_seq or time.monotonic() >= deadline:
                        self._held_head = None
                        break
                self.server.sleep(0.05)
            self.flush()
            Manager.emit(self, SEQ_HEAD, notice, namespace=NAMESPACE, room=room)
        except Exception:  # the next beat sends a fresh notice
            with self._lock:
                self._held_head = None
            log.exception("sending a held seq_head notice failed")

    def _batch_members(self) -> set[str]:
        return {sid for sid, _eio_sid in self.get_participants(NAMESPACE, BATCH_ROOM)}

    def _fan_out(self, payload: dict[str, Any], room: Any) -> None:
        """Send ``payload`` now to every recipient outside the batch room, and hold it for
        the batch room (or send it at once, alone, on a window's leading edge)."""
        rooms = _room_list(room) or [ALL_TASKS_ROOM]
        batch_members = self._batch_members()
        if not batch_members:
            Manager.emit(self, TASK_UPDATE, payload, namespace=NAMESPACE, room=rooms)
            with self._lock:
                self._saw(payload)
            return
        self._send_except(TASK_UPDATE, payload, rooms, batch_members)
        start_flusher = False
        with self._lock:
            now = time.monotonic()
            if not self._pending and now >= self._window_end:
                self._send_batch([payload])
                self._window_end = now + self.window
            else:
                self._pending.append(payload)
                if not self._flusher_running:
                    self._flusher_running = start_flusher = True
            self._saw(payload)
        if start_flusher:
            self.server.start_background_task(self._flush_loop)

    def _send_except(self, event: str, payload: dict[str, Any], rooms: Iterable[Any],
                     excluded: Any) -> None:
        """Like :meth:`socketio.Manager.emit` without callbacks, leaving out the sids in
        ``excluded`` (a dict or set: one lookup each, where ``skip_sid`` would scan a
        list per recipient). The packet is encoded once for all recipients."""
        pkt = self.server.packet_class(sio_packet.EVENT, namespace=NAMESPACE, data=[event, payload])
        encoded = pkt.encode()
        if not isinstance(encoded, list):
            encoded = [encoded]
        eio_pkts = [eio_packet.Packet(eio_packet.MESSAGE, part) for part in encoded]
        for sid, eio_sid in self.get_participants(NAMESPACE, list(rooms)):
            if sid not in excluded:
                for part in eio_pkts:
                    self.server._send_eio_packet(eio_sid, part)

    @property
    def window(self) -> float:
        """The batch window now: the fixed one, or (adaptive) :data:`COST_FACTOR` times
        what a batch send costs, at most the fixed one."""
        if not self.adaptive:
            return self.max_window
        return min(self.max_window, COST_FACTOR * self._batch_cost)

    def _send_batch(self, batch: list[dict[str, Any]]) -> None:
        """One ``task_updates`` message to the batch room. Called with the lock held."""
        batch.sort(key=lambda payload: payload["seq"])
        started = time.perf_counter()
        try:
            Manager.emit(self, BATCH_EVENT, {"events": batch}, namespace=NAMESPACE, room=BATCH_ROOM)
        except Exception:  # a send must not wedge the window; replay recovers the events
            log.exception("sending a task_updates batch of %d events failed", len(batch))
        cost = time.perf_counter() - started
        self._batch_cost = cost if not self._batch_cost else (
            COST_WEIGHT * cost + (1 - COST_WEIGHT) * self._batch_cost)

    def _flush_loop(self) -> None:
        """Flush the held events each time a window closes; end after a quiet window."""
        try:
            while True:
                with self._lock:
                    delay = self._window_end - time.monotonic()
                    if delay <= 0:
                        if not self._pending:
                            self._flusher_running = False
                            return
                        batch, self._pending = self._pending, []
                        start = time.monotonic()
                        self._send_batch(batch)
                        delay = self.window
                        self._window_end = start + delay
                self.server.sleep(delay)
        except BaseException:
            with self._lock:
                self._flusher_running = False
            raise
