"""webapp.live.fanout: coalesced ``task_updates`` for batch subscribers, immediate
``task_update`` for everyone else, nothing twice, order kept. A real python-socketio
``Server`` with the coalescing manager; the transport, the clock and the background
task are fakes, so every window is exact. Also ``subscribe`` with ``batch``."""
from __future__ import annotations

import json
from typing import Any, Callable

import pytest
import socketio as python_socketio

from webapp.core.extensions import socketio as flask_socketio
from webapp.live import fanout

WINDOW = 0.1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    """A server with the coalescing manager, connections by name, and what each got."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.clock = Clock()
        monkeypatch.setattr(fanout.time, "monotonic", self.clock)
        self.manager = fanout.CoalescingRedisManager("redis://127.0.0.1:1/0", channel="flask-socketio",
                                                     window=WINDOW)
        self.server = python_socketio.Server(client_manager=self.manager, async_mode="threading")
        self.sent: list[tuple[str, str, Any]] = []  # (eio_sid, event, data)
        self.tasks: list[Callable[[], None]] = []
        self.on_sleep: list[Callable[[], None]] = []  # one per sleep, in order, mid-sleep
        monkeypatch.setattr(self.server, "_send_eio_packet", self._capture)
        monkeypatch.setattr(self.server, "start_background_task", lambda fn, *a: self.tasks.append(fn))
        monkeypatch.setattr(self.server, "sleep", self._sleep)
        self.eio_sids: dict[str, str] = {}
        self.sids: dict[str, str] = {}
        # What the web and worker processes publish: a real write-only emitter's message.
        self.published: list[dict[str, Any]] = []
        self.emitter = python_socketio.RedisManager("redis://127.0.0.1:1/0", channel="flask-socketio",
                                                    write_only=True)
        self.emitter._publish = self.published.append

    def _capture(self, eio_sid: str, pkt: Any) -> None:
        assert pkt.data[0] == "2", pkt.data  # a Socket.IO EVENT on namespace "/"
        event, data = json.loads(pkt.data[1:])
        self.sent.append((eio_sid, event, data))

    def _sleep(self, seconds: float) -> None:
        if self.on_sleep:  # events that arrive while the flusher sleeps
            self.on_sleep.pop(0)()
        self.clock.now += seconds

    def connect(self, name: str, *rooms: str) -> None:
        eio_sid = f"eio-{name}"
        sid = self.manager.connect(eio_sid, "/")
        self.eio_sids[name], self.sids[name] = eio_sid, sid
        for room in rooms:
            self.manager.enter_room(sid, "/", room)

    def publish(self, seq: int, task_id: int = 1, **extra: Any) -> None:
        """As webapp.live.events.publish: via the message queue to room tasks and task:<id>."""
        self.emitter.emit("task_update", {"seq": seq, "task_id": task_id, **extra}, namespace="/",
                          room=["tasks", f"task:{task_id}"])
        self.manager._handle_emit(self.published.pop())

    def run_background(self) -> None:
        while self.tasks:
            self.tasks.pop(0)()

    def got(self, name: str) -> list[tuple[str, Any]]:
        """(event, seqs or data) in arrival order for one connection."""
        out = []
        for eio_sid, event, data in self.sent:
            if eio_sid != self.eio_sids[name]:
                continue
            if event == "task_update":
                out.append((event, data["seq"]))
            elif event == "task_updates":
                out.append((event, [e["seq"] for e in data["events"]]))
            else:
                out.append((event, data))
        return out

    def seqs(self, name: str) -> list[int]:
        """Every task_update seq one connection received, batches unpacked, in order."""
        seqs: list[int] = []
        for event, value in self.got(name):
            if event == "task_update":
                seqs.append(value)
            elif event == "task_updates":
                seqs.extend(value)
        return seqs


@pytest.fixture
def h(monkeypatch) -> Harness:
    return Harness(monkeypatch)


def test_lone_event_goes_out_at_once_to_both_kinds(h):
    h.connect("plain", "tasks")
    h.connect("batched", fanout.BATCH_ROOM, "tasks")
    h.publish(1)
    assert h.got("plain") == [("task_update", 1)]
    assert h.got("batched") == [("task_updates", [1])]  # leading edge: no wait
    assert h.tasks == []  # nothing held, no flusher


def test_a_burst_is_one_batch_per_window_and_plain_clients_get_each_event(h):
    h.connect("plain", "tasks")
    h.connect("batched", fanout.BATCH_ROOM, "tasks")
    for seq in range(1, 6):
        h.publish(seq)
    assert h.got("plain") == [("task_update", s) for s in range(1, 6)]
    assert h.got("batched") == [("task_updates", [1])]  # 2..5 wait for the window
    h.clock.now += WINDOW / 2
    h.publish(6)
    assert h.got("batched") == [("task_updates", [1])]
    # The window closes: one message with everything held; events during the next
    # window wait for that one's end; then a quiet window ends the flusher.
    h.on_sleep.append(lambda: None)
    h.on_sleep.append(lambda: [h.publish(7), h.publish(8)])
    h.run_background()
    assert h.got("batched") == [("task_updates", [1]), ("task_updates", [2, 3, 4, 5, 6]),
                                ("task_updates", [7, 8])]
    assert h.seqs("plain") == list(range(1, 9))
    assert h.manager._flusher_running is False
    # After a quiet window the next event is a leading edge again.
    h.clock.now += 5
    h.publish(9)
    assert h.got("batched")[-1] == ("task_updates", [9])


def test_batches_are_in_seq_order_even_when_events_arrive_out_of_order(h):
    h.connect("batched", fanout.BATCH_ROOM, "tasks")
    h.publish(10)
    for seq in (13, 11, 12):  # from several publishing processes
        h.publish(seq)
    h.run_background()
    assert h.got("batched") == [("task_updates", [10]), ("task_updates", [11, 12, 13])]


def test_an_event_reaching_a_connection_through_two_rooms_arrives_once(h):
    h.connect("plain-both", "tasks", "task:1")
    h.connect("batched-both", fanout.BATCH_ROOM, "tasks", "task:1")
    h.connect("task-only", "task:1")
    h.connect("other-task", "task:2")
    for seq in (1, 2, 3):
        h.publish(seq, task_id=1)
    h.run_background()
    assert h.seqs("plain-both") == [1, 2, 3]
    assert h.got("plain-both") == [("task_update", 1), ("task_update", 2), ("task_update", 3)]
    assert h.seqs("batched-both") == [1, 2, 3]
    assert all(event == "task_updates" for event, _ in h.got("batched-both"))
    assert h.got("task-only") == [("task_update", 1), ("task_update", 2), ("task_update", 3)]
    assert h.got("other-task") == []


def test_without_batch_subscribers_delivery_is_the_plain_managers(h):
    h.connect("plain", "tasks")
    h.connect("task-only", "task:1")
    for seq in (1, 2, 3):
        h.publish(seq)
    assert h.got("plain") == [("task_update", 1), ("task_update", 2), ("task_update", 3)]
    assert h.got("task-only") == h.got("plain")
    assert h.tasks == [] and h.manager._pending == []


def test_other_events_to_tasks_flush_held_events_first(h):
    h.connect("plain", "tasks")
    h.connect("batched", fanout.BATCH_ROOM, "tasks")
    h.publish(1)
    h.publish(2)
    h.publish(3)
    # task_changed through the message queue (from another process)...
    h.emitter.emit("task_changed", {"action": "updated", "task_id": 1}, namespace="/", room=["tasks", "task:1"])
    h.manager._handle_emit(h.published.pop())
    h.publish(4)
    # ...and the server's own seq_head notice (local only: ignore_queue).
    h.server.emit("seq_head", {"head": 4}, to="tasks", namespace="/", ignore_queue=True)
    assert h.got("batched") == [("task_updates", [1]), ("task_updates", [2, 3]),
                                ("task_changed", {"action": "updated", "task_id": 1}),
                                ("task_updates", [4]), ("seq_head", {"head": 4})]
    assert h.got("plain") == [("task_update", 1), ("task_update", 2), ("task_update", 3),
                              ("task_changed", {"action": "updated", "task_id": 1}),
                              ("task_update", 4), ("seq_head", {"head": 4})]
    h.run_background()  # the window closes with nothing held
    assert h.seqs("batched") == [1, 2, 3, 4]


def test_seq_head_waits_for_the_events_it_counts(h):
    h.connect("plain", "tasks")
    h.connect("batched", fanout.BATCH_ROOM, "tasks")
    h.publish(1)
    # The beacon read head 3 from the database; seq 2 and 3 are still in Redis.
    h.server.emit("seq_head", {"head": 3}, to="tasks", namespace="/", ignore_queue=True)
    assert ("seq_head", {"head": 3}) not in h.got("plain")
    h.on_sleep.append(lambda: h.publish(2))
    h.on_sleep.append(lambda: h.publish(3))
    h.run_background()
    for name in ("plain", "batched"):
        assert h.got(name)[-1] == ("seq_head", {"head": 3})
        assert h.seqs(name) == [1, 2, 3]


def test_seq_head_for_a_lost_event_goes_out_after_the_grace_period(h):
    h.connect("plain", "tasks")
    h.publish(1)
    h.server.emit("seq_head", {"head": 2}, to="tasks", namespace="/", ignore_queue=True)
    h.server.emit("seq_head", {"head": 3}, to="tasks", namespace="/", ignore_queue=True)
    start = h.clock.now
    h.run_background()  # seq 2 and 3 never come
    assert h.got("plain") == [("task_update", 1), ("seq_head", {"head": 3})]
    assert fanout.HEAD_GRACE_SECONDS <= h.clock.now - start < fanout.HEAD_GRACE_SECONDS + 0.2
    # A head already handled goes out at once.
    h.server.emit("seq_head", {"head": 1}, to="tasks", namespace="/", ignore_queue=True)
    assert h.got("plain")[-1] == ("seq_head", {"head": 1}) and h.tasks == []


def test_a_task_rooms_seq_head_is_not_held(h):
    h.connect("task-page", "task:1")
    h.server.emit("seq_head", {"head": 7, "task_id": 1}, to="task:1", namespace="/", ignore_queue=True)
    assert h.got("task-page") == [("seq_head", {"head": 7, "task_id": 1})] and h.tasks == []


def test_local_task_update_emits_are_coalesced_too(h):
    h.connect("batched", fanout.BATCH_ROOM, "tasks")
    h.server.emit("task_update", {"seq": 1}, to="tasks", namespace="/", ignore_queue=True)
    h.server.emit("task_update", {"seq": 2}, to="tasks", namespace="/", ignore_queue=True)
    h.server.emit("task_update", {"seq": 3}, to="tasks", namespace="/")
    h.manager._publish = lambda message: None
    h.run_background()
    assert h.got("batched") == [("task_updates", [1]), ("task_updates", [2, 3])]


def test_events_outside_room_tasks_and_unusual_emits_pass_through(h):
    h.connect("batched", fanout.BATCH_ROOM, "tasks", "task:1", "run:5")
    h.emitter.emit("task_update", {"seq": 1, "task_id": 1}, namespace="/", room="task:1")
    h.manager._handle_emit(h.published.pop())
    h.emitter.emit("run_output", {"run_id": 5, "lines": []}, namespace="/", room="run:5")
    h.manager._handle_emit(h.published.pop())
    h.emitter.emit("task_update", {"seq": 2}, namespace="/", room="tasks", skip_sid=h.sids["batched"])
    h.manager._handle_emit(h.published.pop())
    assert h.got("batched") == [("task_update", 1), ("run_output", {"run_id": 5, "lines": []})]
    assert h.tasks == []


def test_leaving_the_batch_room_stops_batches(h):
    h.connect("c", fanout.BATCH_ROOM, "tasks")
    h.publish(1)
    h.manager.leave_room(h.sids["c"], "/", fanout.BATCH_ROOM)
    h.publish(2)
    assert h.got("c") == [("task_updates", [1]), ("task_update", 2)]


def test_a_failing_send_does_not_wedge_the_window(h, monkeypatch):
    h.connect("batched", fanout.BATCH_ROOM, "tasks")
    h.publish(1)
    h.publish(2)
    real = h.server._send_eio_packet

    def broken(*_):
        raise OSError("socket gone")

    monkeypatch.setattr(h.server, "_send_eio_packet", broken)
    h.run_background()  # the batch [2] is lost to this client (replay brings it back)
    monkeypatch.setattr(h.server, "_send_eio_packet", real)
    h.clock.now += 5
    h.publish(3)
    assert h.got("batched") == [("task_updates", [1]), ("task_updates", [3])]


# -- subscribe with "batch" (Flask-SocketIO's test client, in-process manager) ----------

def subscribe(client, payload):
    return client.emit("subscribe", payload, callback=True)


def joined(socket_client) -> set[str]:
    sid = socket_client.eio_sid
    manager = flask_socketio.server.manager
    return set(manager.get_rooms(manager.sid_from_eio_sid(sid, "/"), "/")) - {manager.sid_from_eio_sid(sid, "/")}


def test_subscribe_with_batch_joins_the_batch_room_and_says_so(socket_client):
    ack = subscribe(socket_client, {"room": "tasks", "since": None, "batch": True})
    assert ack == {"ok": True, "head": 0, "events": [], "batch": True}
    assert joined(socket_client) == {"tasks", fanout.BATCH_ROOM}
    # The latest subscribe to tasks decides.
    ack = subscribe(socket_client, {"room": "tasks", "since": 0})
    assert ack == {"ok": True, "head": 0, "events": []}
    assert joined(socket_client) == {"tasks"}


def test_batch_is_only_for_room_tasks(socket_client, make_task):
    task_id = make_task()
    ack = subscribe(socket_client, {"room": f"task:{task_id}", "since": None, "batch": True})
    assert ack == {"ok": True, "head": 0, "events": []}
    assert joined(socket_client) == {f"task:{task_id}"}


def test_batch_subscriber_keeps_batches_when_joining_a_task_room(socket_client, make_task):
    task_id = make_task()
    subscribe(socket_client, {"room": "tasks", "since": None, "batch": True})
    subscribe(socket_client, {"room": f"task:{task_id}", "since": None})
    assert joined(socket_client) == {"tasks", fanout.BATCH_ROOM, f"task:{task_id}"}


@pytest.mark.parametrize("value", [1, "yes", None, [], {}])
def test_batch_that_is_not_a_boolean_is_refused(socket_client, value):
    ack = subscribe(socket_client, {"room": "tasks", "since": None, "batch": value})
    assert ack == {"ok": False, "error": "batch must be true or false"}
    assert joined(socket_client) == set()


def test_the_batch_room_cannot_be_subscribed_to_by_name(socket_client):
    ack = subscribe(socket_client, {"room": fanout.BATCH_ROOM, "since": None})
    assert ack["ok"] is False
    assert joined(socket_client) == set()


def test_the_app_uses_the_coalescing_manager(app):
    manager = app.extensions["socketio"].server.manager
    assert isinstance(manager, fanout.CoalescingRedisManager)
    assert manager.channel == "flask-socketio"


def test_the_manager_tells_which_events_it_never_handled(h):
    """The seq_head beacon's question (webapp.live.head_beacon): of the log's events up
    to a point, which never reached this process? Only those; then it forgets them."""
    h.connect("plain", "tasks")
    for seq in (1, 2, 4):
        h.publish(seq)
    assert h.manager.missing([1, 2, 3, 4], floor=4) == [3]
    assert h.manager._handled == set()  # forgotten up to the floor
    h.publish(3)  # arriving after its check: below the floor, not kept
    h.publish(5)
    assert h.manager.missing([5, 6], floor=6) == [6]


def test_the_beacon_announces_only_dropped_events(h, monkeypatch):
    """No notice while every event arrived; the head and each task's own head for the
    tasks whose events were dropped."""
    from webapp.live import head_beacon

    monkeypatch.setattr(flask_socketio, "server", h.server)
    sent = []
    monkeypatch.setattr(head_beacon.events, "emit", lambda event, data, to, **kw: sent.append((event, data, to)))
    h.connect("plain", "tasks")
    h.publish(1, task_id=7)
    assert head_beacon.dropped_rows([(1, 7)], 1) == []
    rows = [(2, 7), (3, 8), (4, 8), (5, 9)]
    h.publish(2, task_id=7)
    h.publish(5, task_id=9)
    dropped = head_beacon.dropped_rows(rows, 5)
    assert dropped == [(3, 8), (4, 8)]
    head_beacon.announce(6, head_beacon.task_heads(dropped))
    assert sent == [("seq_head", {"head": 6}, "tasks"), ("seq_head", {"head": 4, "task_id": 8}, "task:8")]


def test_the_adaptive_window_follows_what_a_batch_costs(h, monkeypatch):
    """No wait while a batch is cheap to send (a few pages); a window of COST_FACTOR
    times the send's cost, at most the fixed one, when it is not (a thousand)."""
    h.manager.adaptive = True
    h.connect("batched", fanout.BATCH_ROOM, "tasks")
    cost = {"seconds": 0.0}
    ticks = iter(range(10_000))
    # Each send "takes" cost seconds on the cost clock (the window's clock is the harness's).
    monkeypatch.setattr(fanout.time, "perf_counter", lambda: next(ticks) * cost["seconds"])
    for seq in (1, 2, 3):
        h.publish(seq)
    assert h.got("batched") == [("task_updates", [1]), ("task_updates", [2]), ("task_updates", [3])]
    assert h.manager.window == 0.0 and h.tasks == []
    cost["seconds"] = 0.01  # 10 ms a batch: a 40 ms window once the average has moved
    for _ in range(30):
        h.manager._send_batch([])
    assert abs(h.manager.window - fanout.COST_FACTOR * 0.01) < 0.002
    h.clock.now += 1
    h.publish(4)
    h.publish(5)  # inside the window: held
    assert h.got("batched")[-1] == ("task_updates", [4]) and len(h.tasks) == 1
    cost["seconds"] = 1.0  # very dear: the window stays at the fixed cap
    for _ in range(30):
        h.manager._send_batch([])
    assert h.manager.window == WINDOW
