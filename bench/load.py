"""Load: N concurrent Socket.IO clients on one server while runs finish at ``--rate`` a
second for ``--seconds``; no client may lose or double an event (checked by ``seq``).

A driver thread plays the workers: for each run it goes through the real state path
(``open_run`` then ``update_task_status`` to running and success: database row, event
row, publish through the Redis message queue), so every event is a real ``task_update``
with a real ``seq``. Clients apply the replay rule of docs/protocol.md (a ``seq`` gap or a
``seq_head`` notice -> ``subscribe`` with ``since``), and at the end every client must hold
exactly the seqs the database holds for the window.

    .venv/bin/python -m bench.load --clients 1000 --rate 50 --seconds 60

Prints lost/doubled events, emit -> receive p50/p99 (live events), server CPU and
memory per connection. ``run_load`` is also used by the test suite with small numbers.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import socketio

from bench.common import ProcessMeter, basic_header, cpu_window, emit_json, running_system, summary


class Tracker:
    """One client's view: how often each seq arrived live, and what replay added."""

    def __init__(self) -> None:
        self.live: dict[int, int] = {}  # seq -> live deliveries (more than 1 = doubled)
        self.replayed: set[int] = set()  # seqs that only a replay brought
        self.latencies: list[float] = []
        self.last: int | None = None

    def holds(self) -> set[int]:
        return set(self.live) | self.replayed


async def connect_client(url: str, tracker: Tracker, transport: str) -> socketio.AsyncClient:
    """A client that follows the replay rule: subscribe with ``since`` on connect and
    whenever a ``seq_head`` notice shows it is behind."""
    client = socketio.AsyncClient(reconnection=True)

    async def resync() -> None:
        ack = await client.call("subscribe", {"room": "tasks", "since": tracker.last}, timeout=60)
        for event in ack.get("events", []):
            if event["seq"] not in tracker.live:
                tracker.replayed.add(event["seq"])
        if ack.get("events"):
            tracker.last = max(tracker.last or 0, ack["events"][-1]["seq"])
        if tracker.last is None:
            tracker.last = ack["head"]

    @client.on("connect")
    async def on_connect() -> None:
        await resync()

    @client.on("task_update")
    async def on_update(event: dict) -> None:
        received = time.time()
        tracker.live[event["seq"]] = tracker.live.get(event["seq"], 0) + 1
        sent = datetime.fromisoformat(event["emitted_at"].replace("Z", "+00:00")).timestamp()
        tracker.latencies.append((received - sent) * 1000)
        tracker.last = max(tracker.last or 0, event["seq"])

    @client.on("seq_head")
    async def on_head(notice: dict) -> None:
        behind = tracker.last is not None and notice["head"] > tracker.last
        missing = tracker.last is not None and len(tracker.holds()) and \
            min(tracker.holds()) + len(tracker.holds()) - 1 < tracker.last
        if behind or missing:
            tracker.last = min(tracker.last, _first_gap(tracker))
            await resync()

    await client.connect(url, transports=[transport], headers={"Authorization": basic_header()},
                         wait_timeout=60)
    return client


def _first_gap(tracker: Tracker) -> int:
    """The seq just before the first one this client is missing."""
    held = sorted(tracker.holds())
    for previous, current in zip(held, held[1:]):
        if current != previous + 1:
            return previous
    return held[-1] if held else 0


def drive_runs(env: dict[str, str], rate: float, seconds: float, out: dict) -> None:
    """Make ``rate`` runs a second go queued -> running -> success through the product's
    own state path, in this process, against the stack's database and Redis."""
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")})
    from webapp import create_app
    from webapp.events import publish
    from webapp.extensions import db
    from webapp.models import Task
    from webapp.runs import open_run, update_task_status

    app = create_app({"ASYNC_MODE": "threading"})
    with app.app_context():
        task = Task(name=f"load-{time.time()}", kind="shell", config={"command": "true"})
        db.session.add(task)
        db.session.commit()
        runs = 0
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            due = start + runs / rate
            if (delay := due - time.monotonic()) > 0:
                time.sleep(delay)
            run, payload = open_run(db.session.get(Task, task.id), "manual")
            run_id = run.id
            db.session.commit()
            publish(payload)
            update_task_status(run_id, "running")
            update_task_status(run_id, "success")
            runs += 1
        out["runs"] = runs
        out["achieved_rate"] = round(runs / (time.monotonic() - start), 1)


async def run_load(stack, clients: int, rate: float, seconds: float, transport: str = "websocket") -> dict:
    """Connect the clients, drive the runs, and check every client's seqs."""
    meter = ProcessMeter(stack.web.pid)
    rss_before = meter.rss_bytes()
    trackers = [Tracker() for _ in range(clients)]
    sockets = []
    for start in range(0, clients, 50):
        sockets += await asyncio.gather(*(connect_client(stack.base_url, t, transport)
                                          for t in trackers[start:start + 50]))
    await asyncio.sleep(2)
    rss_after = meter.rss_bytes()
    head_before = stack.api("GET", "/events?since=0&limit=1").json()["head"]
    driven: dict = {}
    driver = threading.Thread(target=drive_runs, args=(stack.env, rate, seconds, driven), daemon=True)
    with cpu_window(meter) as cpu:
        driver.start()
        while driver.is_alive():
            await asyncio.sleep(0.2)
    head_after = stack.api("GET", "/events?since=0&limit=1").json()["head"]
    expected = set(range(head_before + 1, head_after + 1))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(expected <= t.holds() for t in trackers):
        await asyncio.sleep(0.5)  # stragglers: the seq_head notice comes within ~5 s
    lost = sum(len(expected - t.holds()) for t in trackers)
    doubled = sum(sum(1 for s in expected if t.live.get(s, 0) > 1) for t in trackers)
    await asyncio.gather(*(s.disconnect() for s in sockets))
    return {
        "clients": clients,
        "transport": transport,
        "async_mode": stack.async_mode,
        "target_runs_per_s": rate,
        "seconds": seconds,
        "runs": driven.get("runs"),
        "achieved_runs_per_s": driven.get("achieved_rate"),
        "events_per_client": len(expected),
        "lost": lost,
        "doubled": doubled,
        "recovered_by_replay": sum(len(t.replayed & expected) for t in trackers),
        "emit_to_receive_ms": summary([x for t in trackers for x in t.latencies], 1),
        "server_cpu_percent": cpu["cpu_percent"],
        "server_kb_per_connection": round((rss_after - rss_before) / 1024 / max(1, clients), 1),
        "server_rss_mb": round(rss_after / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="many clients while runs finish; nothing lost")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--transport", choices=["websocket", "polling"], default="websocket")
    parser.add_argument("--async-mode", choices=["eventlet", "threading", "gevent"], default="eventlet")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_system(Path(tmp), args.async_mode, workers=0) as stack:
        figures = asyncio.run(run_load(stack, args.clients, args.rate, args.seconds, args.transport))
    emit_json(figures, args.out)


if __name__ == "__main__":
    main()
