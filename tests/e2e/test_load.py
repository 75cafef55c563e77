"""A smaller run of bench/load.py's check, in every async mode: many clients while runs
finish, most subscribed with ``"batch": true`` (``task_updates``) and a few without
(``task_update`` one by one); every client ends with every event, none twice, each
delivered live and in ``seq`` order. Plus one real run through the forking worker, seen
by a batch client and a plain one."""
from __future__ import annotations

import asyncio
import base64
import threading
import time

import socketio

from bench.load import run_load
from tests.support.processes import ADMIN

# gunicorn --threads 100 (threading mode) holds a thread per WebSocket: stay well below.
CLIENTS = {"eventlet": 100, "gevent": 100, "threading": 40}
# The fixed 100 ms batch window, whose batching these tests count: the adaptive one (the
# default) sends a room of 100 pages every event at once (webapp.live.fanout).
STACK_ENV = {"TASKPULSE_BATCH_ADAPTIVE": "0"}


def _in_own_loop(coro_factory):
    """Run a coroutine on a fresh event loop in its own thread: Playwright's sync API
    (the browser tests) may already own this thread's loop."""
    result: dict = {}

    def target() -> None:
        result["value"] = asyncio.run(coro_factory())

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    return result["value"]


def test_batch_and_plain_clients_lose_double_and_reorder_nothing(stack):
    clients = CLIENTS[stack.async_mode]
    figures = _in_own_loop(lambda: run_load(stack, clients=clients, rate=10, seconds=8, plain=5))
    print(figures)
    assert figures["runs"] >= 20  # the driver kept going (its rate depends on the machine)
    assert figures["events_per_client"] == 3 * figures["runs"]
    for kind, count in (("batch", clients - 5), ("plain", 5)):
        part = figures[kind]
        assert part["clients"] == count
        # Summed over the clients of a kind: zero means zero for every client.
        assert (part["lost"], part["doubled"], part["out_of_order"]) == (0, 0, 0), part
        # Every event reached every client live (not only through a replay).
        assert part["emit_to_receive_ms"]["n"] == figures["events_per_client"] * count, part
    # Batching happened: at 30 events a second, a batch client gets at most ~10
    # messages a second (one per 100 ms window), a plain client one per event.
    assert figures["batch"]["messages_per_client_per_s"] <= 12
    assert figures["plain"]["messages_per_client_per_s"] >= 25


class Recorder:
    """A python-socketio client that records every task update with how it came."""

    def __init__(self, url: str, batch: bool) -> None:
        self.received: list[tuple[str, int, str]] = []  # (event name, seq, status)
        self.ack: dict | None = None
        self.sio = socketio.Client()
        self.sio.on("task_update", lambda ev: self.received.append(("task_update", ev["seq"], ev["status"])))
        self.sio.on("task_updates", lambda batch: self.received.extend(
            ("task_updates", ev["seq"], ev["status"]) for ev in batch["events"]))
        basic = base64.b64encode(":".join(ADMIN).encode()).decode()
        self.sio.connect(url, transports=["websocket"], headers={"Authorization": f"Basic {basic}"})
        request = {"room": "tasks", "since": None, **({"batch": True} if batch else {})}
        self.ack = self.sio.call("subscribe", request, timeout=10)

    def seqs_of(self, run_events: list[dict]) -> list[tuple[str, int, str]]:
        wanted = {ev["seq"] for ev in run_events}
        return [r for r in self.received if r[1] in wanted]


def test_a_real_run_reaches_batch_and_plain_clients_once_each(stack, unique_name):
    task = stack.create_task(unique_name, "true")
    batched = Recorder(stack.base_url, batch=True)
    plain = Recorder(stack.base_url, batch=False)
    try:
        assert batched.ack["ok"] and batched.ack["batch"] is True
        assert plain.ack["ok"] and "batch" not in plain.ack
        # The event log may already be long (on PostgreSQL the suite shares one database).
        head = stack.api("GET", "/events?limit=1").json()["head"]
        response = stack.api("POST", f"/tasks/{task['id']}/run")
        assert response.status_code == 202, response.text
        run_id = response.json()["run_id"]
        deadline = time.monotonic() + 30
        events: list[dict] = []
        while time.monotonic() < deadline:
            events = [e for e in stack.api("GET", f"/events?since={head}&limit=500").json()["events"]
                      if e["run_id"] == run_id]
            if events and events[-1]["status"] == "success" and \
                    all(len(c.seqs_of(events)) >= len(events) for c in (batched, plain)):
                break
            time.sleep(0.1)
        statuses = [e["status"] for e in events]
        assert statuses == ["queued", "running", "success"]
        seqs = [e["seq"] for e in events]
        assert [(s, st) for _, s, st in plain.seqs_of(events)] == list(zip(seqs, statuses))
        assert [(s, st) for _, s, st in batched.seqs_of(events)] == list(zip(seqs, statuses))
        assert {name for name, _, _ in plain.seqs_of(events)} == {"task_update"}
        assert {name for name, _, _ in batched.seqs_of(events)} == {"task_updates"}
    finally:
        batched.sio.disconnect()
        plain.sio.disconnect()
