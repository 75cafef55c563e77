"""Fan-out: server emit -> receive latency with N connected clients, and what each
connection costs the server.

Starts the real system (private redis-server, the Socket.IO server process), connects N
asyncio python-socketio clients (signed in with HTTP Basic, subscribed to room
``tasks``), then publishes ``task_update``-shaped events through the Redis message queue
exactly as workers do, at ``--rate`` per second, and records emit -> receive per client.

    .venv/bin/python -m bench.fanout --clients 100 --events 100 --rate 10
    .venv/bin/python -m bench.fanout --clients 100 --transport polling

Prints p50/p99 latency, server CPU during the emit window, and server memory per
connection (RSS after connecting minus before, divided by N). All clients live in this
one process: at 1,000 clients its own event loop adds to the latency (the report says
how much, from the spread between first and last receiver of each event).
"""
from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import socketio

from bench.common import ProcessMeter, basic_header, cpu_window, emit_json, running_system, summary


async def connect_clients(url: str, count: int, transport: str, sink: dict) -> list[socketio.AsyncClient]:
    """Connect ``count`` clients in batches; each subscribes to room ``tasks``."""
    clients: list[socketio.AsyncClient] = []

    async def one(index: int) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)

        @client.on("task_update")
        async def on_update(event: dict) -> None:
            received = time.time()
            sink.setdefault(event["seq"], []).append(received)

        await client.connect(url, transports=[transport], headers={"Authorization": basic_header()},
                             wait_timeout=30)
        ack = await client.call("subscribe", {"room": "tasks", "since": None}, timeout=30)
        assert ack.get("ok"), ack
        return client

    batch = 50
    for start in range(0, count, batch):
        clients += await asyncio.gather(*(one(i) for i in range(start, min(count, start + batch))))
    return clients


async def run(args: argparse.Namespace, stack) -> dict:
    meter = ProcessMeter(stack.web.pid)
    rss_before = meter.rss_bytes()
    received: dict[int, list[float]] = {}
    t0 = time.monotonic()
    clients = await connect_clients(stack.base_url, args.clients, args.transport, received)
    connect_seconds = time.monotonic() - t0
    await asyncio.sleep(2)  # let the server settle after the connection burst
    rss_after = meter.rss_bytes()

    emitter = socketio.RedisManager(stack.redis.url, channel="flask-socketio", write_only=True)
    sent: dict[int, float] = {}
    with cpu_window(meter) as cpu:
        for seq in range(1, args.events + 1):
            payload = {"seq": seq, "task_id": 0, "task_name": "bench", "run_id": seq, "status": "running"}
            sent[seq] = time.time()
            emitter.emit("task_update", payload, namespace="/", room=["tasks"])
            await asyncio.sleep(1 / args.rate)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum(len(v) for v in received.values()) < args.events * args.clients:
            await asyncio.sleep(0.1)

    latencies = [(r - sent[seq]) * 1000 for seq, times in received.items() for r in times]
    spreads = [(max(t) - min(t)) * 1000 for t in received.values() if t]
    delivered = sum(len(v) for v in received.values())
    await asyncio.gather(*(c.disconnect() for c in clients))
    return {
        "clients": args.clients,
        "transport": args.transport,
        "async_mode": args.async_mode,
        "events": args.events,
        "rate_per_s": args.rate,
        "delivered": delivered,
        "expected": args.events * args.clients,
        "lost": args.events * args.clients - delivered,
        "emit_to_receive_ms": summary(latencies),
        "first_to_last_receiver_ms": summary(spreads),
        "server_cpu_percent_while_emitting": cpu["cpu_percent"],
        "server_rss_mb": round(rss_after / 2**20, 1),
        "server_kb_per_connection": round((rss_after - rss_before) / 1024 / max(1, args.clients), 1),
        "connect_seconds": round(connect_seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Socket.IO fan-out latency and cost per connection")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0, help="events per second")
    parser.add_argument("--transport", choices=["websocket", "polling"], default="websocket")
    parser.add_argument("--async-mode", choices=["eventlet", "threading"], default="eventlet")
    parser.add_argument("--out", type=Path, help="also write the figures here (JSON)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_system(Path(tmp), args.async_mode, workers=0) as stack:
        figures = asyncio.run(run(args, stack))
    emit_json(figures, args.out)


if __name__ == "__main__":
    main()
