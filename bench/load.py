"""Load: N concurrent Socket.IO clients on one server while runs finish at ``--rate`` a
second for ``--seconds``; no client may lose or double an event (checked by ``seq``).

A driver process plays the workers: for each run it goes through the real state path
(``open_run`` then ``update_task_status`` to running and success: database row, event
row, publish through the Redis message queue), so every event is a real ``task_update``
with a real ``seq``. Most clients subscribe as the page does, with ``"batch": true``
(``task_updates`` batches, at most one per ~100 ms); ``--plain`` of them subscribe
without it and get each ``task_update`` alone, as independent clients do. Clients apply
the replay rule of docs/protocol.md (a ``seq_head`` notice that shows a gap ->
``subscribe`` with ``since``), and at the end every client must hold exactly the seqs the
database holds for the window, each delivered live at most once and in ``seq`` order.

    .venv/bin/python -m bench.load --clients 1000 --rate 50 --seconds 60

The clients are python-socketio ``AsyncClient``s, spread over ``--client-procs``
processes (one asyncio loop each): decoding 150 events a second for each of 1,000
clients is more than one Python process keeps up with, and a client that falls behind
by more than the ping timeout is dropped by its own engine.io layer.

Prints lost/doubled/out-of-order events, emit -> receive p50/p99 (live events, per kind
of client), server CPU and memory per connection. ``run_load`` is also used by the test
suite with small numbers (its clients then run in the calling process).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import queue
import tempfile
import time
from array import array
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import socketio

from bench.common import ProcessMeter, basic_header, cpu_window, emit_json, running_system

_STAMPS: dict[str, float] = {}  # emitted_at -> epoch seconds: every client sees the same strings


def _epoch(stamp: str) -> float:
    value = _STAMPS.get(stamp)
    if value is None:
        value = _STAMPS[stamp] = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    return value


class Tracker:
    """One client's view: how often each seq arrived live, in what order, and what
    replay added. Kept cheap per event: hundreds of them share one process, at 150
    events a second each."""

    def __init__(self, batch: bool, latencies: array) -> None:
        self.batch = batch
        self.live: dict[int, int] = {}  # seq -> live deliveries (more than 1 = doubled)
        self.replayed: set[int] = set()  # seqs that only a replay brought
        self.latencies = latencies  # emit -> receive, seconds, shared by a kind of client
        self.last: int | None = None
        self.contiguous: int | None = None  # every seq from the first subscribe up to this is held
        self.ahead: set[int] = set()  # held seqs above a gap
        self.previous_live = 0  # the last live seq, for the order check
        self.out_of_order = 0  # live events that came after a higher seq
        self.messages = 0  # Socket.IO messages carrying task updates
        self.subscribes = 0

    def holds(self) -> set[int]:
        return set(self.live) | self.replayed

    def hold(self, seq: int) -> None:
        if self.contiguous is None or seq <= self.contiguous:
            return
        if seq == self.contiguous + 1:
            self.contiguous = seq
            while self.contiguous + 1 in self.ahead:
                self.contiguous += 1
                self.ahead.discard(self.contiguous)
        else:
            self.ahead.add(seq)

    def on_live(self, events: list[dict[str, Any]], received: float) -> None:
        live, latencies, previous = self.live, self.latencies, self.previous_live
        for event in events:
            seq = event["seq"]
            count = live.get(seq)
            live[seq] = 1 if count is None else count + 1
            if seq < previous:
                self.out_of_order += 1
            else:
                previous = seq
            contiguous = self.contiguous
            if contiguous is not None and seq == contiguous + 1 and not self.ahead:
                self.contiguous = seq  # the common case, inline
            else:
                self.hold(seq)
            latencies.append(received - _epoch(event["emitted_at"]))
        self.previous_live = previous
        self.last = max(self.last or 0, previous)

    def has_gap(self) -> bool:
        return bool(self.ahead) or (self.last is not None and self.contiguous is not None
                                    and self.contiguous < self.last)


async def connect_client(url: str, tracker: Tracker, transport: str,
                         json_module: Any = None) -> socketio.AsyncClient:
    """A client that follows the replay rule: subscribe with ``since`` on connect and
    whenever a ``seq_head`` notice shows it is behind or has a gap."""
    client = socketio.AsyncClient(reconnection=True, json=json_module)
    request: dict[str, Any] = {"room": "tasks"}
    if tracker.batch:
        request["batch"] = True

    async def resync() -> None:
        tracker.subscribes += 1
        ack = await client.call("subscribe", dict(request, since=tracker.last), timeout=60)
        if tracker.batch and ack.get("batch") is not True:
            raise RuntimeError(f"the server did not accept batch: {ack}")
        if tracker.contiguous is None:
            tracker.contiguous = ack["head"]  # the first subscribe: nothing before head is owed
        for event in ack.get("events", []):
            if event["seq"] not in tracker.live:
                tracker.replayed.add(event["seq"])
                tracker.hold(event["seq"])
        if ack.get("events"):
            tracker.last = max(tracker.last or 0, ack["events"][-1]["seq"])
        if tracker.last is None:
            tracker.last = ack["head"]

    @client.on("connect")
    async def on_connect() -> None:
        await resync()

    @client.on("task_update")
    async def on_update(event: dict) -> None:
        tracker.messages += 1
        tracker.on_live([event], time.time())

    @client.on("task_updates")
    async def on_batch(batch: dict) -> None:
        tracker.messages += 1
        tracker.on_live(batch["events"], time.time())

    @client.on("seq_head")
    async def on_head(notice: dict) -> None:
        behind = tracker.last is not None and notice["head"] > tracker.last
        if behind or tracker.has_gap():
            tracker.last = tracker.contiguous  # replay from the first missing seq
            await resync()

    await client.connect(url, transports=[transport], headers={"Authorization": basic_header()},
                         wait_timeout=60)
    return client


# -- latency histograms (mergeable across client processes) ------------------------------

BUCKET_MS = 0.1


def histogram(values: array) -> dict[str, Any]:
    """Latencies (seconds) as 0.1 ms buckets, with their exact sum and maximum."""
    buckets = Counter(int(v * 1000 / BUCKET_MS) for v in values)
    return {"buckets": dict(buckets), "n": len(values), "sum_ms": sum(values) * 1000,
            "max_ms": max(values) * 1000 if values else float("nan")}


def merge_histograms(parts: list[dict[str, Any]]) -> dict[str, Any]:
    buckets: Counter = Counter()
    for part in parts:
        buckets.update(part["buckets"])
    n = sum(part["n"] for part in parts)
    return {"buckets": dict(buckets), "n": n, "sum_ms": sum(part["sum_ms"] for part in parts),
            "max_ms": max((part["max_ms"] for part in parts if part["n"]), default=float("nan"))}


def histogram_summary(hist: dict[str, Any]) -> dict[str, float]:
    """n, p50, p99 (nearest rank, to the bucket's upper edge), mean and max in ms."""
    n = hist["n"]
    if not n:
        return {"n": 0, "p50": float("nan"), "p99": float("nan"), "mean": float("nan"), "max": float("nan")}
    keys = sorted((int(k), c) for k, c in hist["buckets"].items())
    out: dict[str, float] = {"n": n}
    for name, pct in (("p50", 50), ("p99", 99)):
        rank = max(0, min(n - 1, round(pct / 100 * n + 0.5) - 1))
        seen = 0
        for key, count in keys:
            seen += count
            if seen > rank:
                out[name] = round((key + 1) * BUCKET_MS, 1)
                break
    out["mean"] = round(hist["sum_ms"] / n, 1)
    out["max"] = round(hist["max_ms"], 1)
    return out


# -- a group of clients on one asyncio loop ----------------------------------------------

class ClientGroup:
    """Some of the clients, on this process's event loop."""

    def __init__(self, url: str, kinds: list[bool], transport: str, json_module: Any = None) -> None:
        self.url, self.transport, self.json_module = url, transport, json_module
        self.latencies = {True: array("d"), False: array("d")}
        self.trackers = [Tracker(batch, self.latencies[batch]) for batch in kinds]
        self.sockets: list[socketio.AsyncClient] = []

    async def connect(self) -> None:
        for start in range(0, len(self.trackers), 50):
            self.sockets += await asyncio.gather(*(
                connect_client(self.url, t, self.transport, self.json_module)
                for t in self.trackers[start:start + 50]))

    def reset(self) -> None:
        """Start of the measured window: count messages and latencies from here."""
        for tracker in self.trackers:
            tracker.subscribes = tracker.messages = 0
        for values in self.latencies.values():
            del values[:]

    async def check(self, head_before: int, head_after: int) -> dict[str, Any]:
        """Wait (at most 60 s) for stragglers, then count per kind of client."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
                t.contiguous is not None and t.contiguous >= head_after for t in self.trackers):
            await asyncio.sleep(0.5)  # the seq_head notice comes within ~5 s
        expected = set(range(head_before + 1, head_after + 1))
        figures = {}
        for batch, kind in ((True, "batch"), (False, "plain")):
            group = [t for t in self.trackers if t.batch is batch]
            figures[kind] = {
                "clients": len(group),
                "lost": sum(len(expected - t.holds()) for t in group),
                "doubled": sum(sum(1 for s in expected if t.live.get(s, 0) > 1) for t in group),
                "out_of_order": sum(t.out_of_order for t in group),
                "recovered_by_replay": sum(len(t.replayed & expected) for t in group),
                "resubscribes": sum(t.subscribes for t in group),
                "messages": sum(t.messages for t in group),
                "latency": histogram(self.latencies[batch]),
            }
        return figures

    async def close(self) -> None:
        await asyncio.gather(*(s.disconnect() for s in self.sockets), return_exceptions=True)


def _client_process(conn: Any, url: str, kinds: list[bool], transport: str,
                    group_class: type | None = None) -> None:
    """A client process: obeys ``connect``, ``reset``, ``check`` and ``close`` from the
    parent over ``conn`` and answers each (``group_class``: ClientGroup or one with the
    same methods, e.g. bench/soak_clients.py's)."""
    async def serve() -> None:
        # The standard json module: engine.io's default wraps int parsing in a Python
        # call per integer (a guard against hostile servers), a third of the decode cost.
        group = (group_class or ClientGroup)(url, kinds, transport, json_module=json)
        while True:
            while not conn.poll():
                await asyncio.sleep(0.05)
            command, *args = conn.recv()
            if command == "connect":
                await group.connect()
                conn.send("connected")
            elif command == "reset":
                group.reset()
                conn.send("reset")
            elif command == "check":
                conn.send(await group.check(*args))
            elif command == "close":
                await group.close()
                conn.send("closed")
                return

    asyncio.run(serve())


class RemoteGroup:
    """A :class:`ClientGroup` in a process of its own, driven over a pipe."""

    def __init__(self, url: str, kinds: list[bool], transport: str, group_class: type | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_client_process, args=(child, url, kinds, transport, group_class),
                                       daemon=True)
        self.process.start()

    async def _ask(self, *message: Any, timeout: float = 300) -> Any:
        self.conn.send(message)
        deadline = time.monotonic() + timeout
        while not self.conn.poll():
            if not self.process.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"client process failed (exit code {self.process.exitcode})")
            await asyncio.sleep(0.05)
        return self.conn.recv()

    async def connect(self) -> None:
        await self._ask("connect")

    async def reset(self) -> None:
        await self._ask("reset")

    async def check(self, *args: Any) -> dict[str, Any]:
        return await self._ask("check", *args)

    async def close(self) -> None:
        try:
            await self._ask("close", timeout=60)
        finally:
            self.process.join(10)


class LocalGroup(ClientGroup):
    """The same interface, in the calling process (the test suite's small runs)."""

    async def reset(self) -> None:  # type: ignore[override]
        super().reset()


# -- the run driver ----------------------------------------------------------------------

def drive_runs(env: dict[str, str], rate: float, seconds: float, report: "multiprocessing.Queue") -> None:
    """Make ``rate`` runs a second go queued -> running -> success through the product's
    own state path, against the stack's database and Redis. Runs in its own process,
    so it does not share a GIL with the clients. Puts ``("started", None)`` when the
    first run is due and ``("done", figures)`` at the end."""
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")})
    from webapp import create_app
    from webapp.core.extensions import db
    from webapp.core.models import Task
    from webapp.live.events import publish
    from webapp.runs.state import open_run, update_task_status

    app = create_app({"ASYNC_MODE": "threading"})
    with app.app_context():
        task = Task(name=f"load-{time.time()}", kind="shell", config={"command": "true"})
        db.session.add(task)
        db.session.commit()
        runs = 0
        report.put(("started", None))
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
        report.put(("done", {"runs": runs, "achieved_rate": round(runs / (time.monotonic() - start), 1)}))


async def _next_report(reports: "multiprocessing.Queue", driver: Any, timeout: float) -> tuple[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return reports.get_nowait()
        except queue.Empty:
            if not driver.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the run driver stopped (exit code {driver.exitcode})") from None
            await asyncio.sleep(0.1)


def _kinds(clients: int, plain: int) -> list[bool]:
    """True (batch) or False (plain) per client, the plain ones spread evenly."""
    plain = min(plain, clients)
    step = clients / plain if plain else 0
    plain_at = {int(i * step) for i in range(plain)}
    return [i not in plain_at for i in range(clients)]


async def run_load(stack, clients: int, rate: float, seconds: float, transport: str = "websocket",
                   plain: int = 0, client_procs: int = 1) -> dict:
    """Connect ``clients`` clients (``plain`` of them without ``batch``) in
    ``client_procs`` processes (1: in this one), drive the runs, and check every
    client's seqs."""
    meter = ProcessMeter(stack.web.pid)
    rss_before = meter.rss_bytes()
    kinds = _kinds(clients, plain)
    if client_procs <= 1:
        groups: list[Any] = [LocalGroup(stack.base_url, kinds, transport)]
    else:
        # Contiguous slices, so each process gets its share of the evenly spread plain clients.
        bounds = [round(i * clients / client_procs) for i in range(client_procs + 1)]
        groups = [RemoteGroup(stack.base_url, kinds[bounds[i]:bounds[i + 1]], transport)
                  for i in range(client_procs)]
    try:
        await asyncio.gather(*(g.connect() for g in groups))
        await asyncio.sleep(2)
        rss_after = meter.rss_bytes()
        head_before = stack.api("GET", "/events?since=0&limit=1").json()["head"]
        await asyncio.gather(*(g.reset() for g in groups))
        context = multiprocessing.get_context("spawn")
        reports = context.Queue()
        driver = context.Process(target=drive_runs, args=(stack.env, rate, seconds, reports), daemon=True)
        driver.start()
        await _next_report(reports, driver, 60)
        with cpu_window(meter) as cpu:
            _, driven = await _next_report(reports, driver, seconds + 120)
        driver.join(10)
        head_after = stack.api("GET", "/events?since=0&limit=1").json()["head"]
        parts = await asyncio.gather(*(g.check(head_before, head_after) for g in groups))
    finally:
        await asyncio.gather(*(g.close() for g in groups), return_exceptions=True)

    per_kind: dict[str, dict[str, Any]] = {}
    for kind in ("batch", "plain"):
        rows = [part[kind] for part in parts]
        n = sum(row["clients"] for row in rows)
        per_kind[kind] = {key: sum(row[key] for row in rows)
                          for key in ("clients", "lost", "doubled", "out_of_order", "recovered_by_replay",
                                      "resubscribes")}
        per_kind[kind]["messages_per_client_per_s"] = round(
            sum(row["messages"] for row in rows) / max(1, n) / cpu["seconds"], 1)
        per_kind[kind]["emit_to_receive_ms"] = histogram_summary(merge_histograms([row["latency"] for row in rows]))
    everyone = merge_histograms([part[kind]["latency"] for part in parts for kind in ("batch", "plain")])
    return {
        "clients": clients,
        "batch_clients": per_kind["batch"]["clients"],
        "plain_clients": per_kind["plain"]["clients"],
        "client_processes": max(1, client_procs),
        "transport": transport,
        "async_mode": stack.async_mode,
        "target_runs_per_s": rate,
        "seconds": seconds,
        "runs": driven["runs"],
        "achieved_runs_per_s": driven["achieved_rate"],
        "events_per_client": head_after - head_before,
        **{key: sum(per_kind[k][key] for k in per_kind)
           for key in ("lost", "doubled", "out_of_order", "recovered_by_replay")},
        "emit_to_receive_ms": histogram_summary(everyone),
        "batch": per_kind["batch"],
        "plain": per_kind["plain"],
        "server_cpu_percent": cpu["cpu_percent"],
        "server_kb_per_connection": round((rss_after - rss_before) / 1024 / max(1, clients), 1),
        "server_rss_mb": round(rss_after / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="many clients while runs finish; nothing lost")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--plain", type=int, default=10,
                        help="how many of the clients subscribe without batch (default 10)")
    parser.add_argument("--rate", type=float, default=50, help="runs a second (3 events each)")
    parser.add_argument("--seconds", "--duration", type=float, default=60, dest="seconds")
    parser.add_argument("--client-procs", type=int, default=2,
                        help="processes the clients are spread over (default 2)")
    parser.add_argument("--transport", choices=["websocket", "polling"], default="websocket")
    parser.add_argument("--async-mode", choices=["eventlet", "threading", "gevent"], default="eventlet")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_system(Path(tmp), args.async_mode, workers=0) as stack:
        figures = asyncio.run(run_load(stack, args.clients, args.rate, args.seconds, args.transport,
                                       args.plain, args.client_procs))
    emit_json(figures, args.out)


if __name__ == "__main__":
    main()
