"""Idle cost against polling: N open Taskpulse pages (Socket.IO, idle) against N pages
that poll the task list every 2.5 s (what rq-dashboard does), on the same server.

For each side, over ``--seconds``: HTTP requests a minute, server CPU, bytes on the
loopback interface (client <-> server; nothing else talks during the window), and how
stale each side's view is: a task is run every few seconds, and each view's delay from
the run's success (``emitted_at``) to the moment that view shows it is recorded.
The loopback byte counts include the worker's Redis traffic for those runs, the same
on both sides.

    .venv/bin/python -m bench.idle_cost --pages 100 --seconds 60
"""
from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import datetime
from pathlib import Path

import aiohttp
import socketio

from bench.common import ProcessMeter, basic_header, cpu_window, emit_json, load, running_system, summary

POLL_INTERVAL = 2.5


def loopback_bytes() -> int:
    """Bytes received on ``lo`` so far (each loopback byte is counted once there)."""
    for line in Path("/proc/net/dev").read_text().splitlines():
        name, _, data = line.partition(":")
        if name.strip() == "lo":
            return int(data.split()[0])
    return 0


def emitted(event: dict) -> float:
    return datetime.fromisoformat(event["emitted_at"].replace("Z", "+00:00")).timestamp()


class RequestCounter:
    """Counts HTTP requests made through an aiohttp session."""

    def __init__(self) -> None:
        self.count = 0
        self.config = aiohttp.TraceConfig()
        self.config.on_request_start.append(self._start)

    async def _start(self, *_args) -> None:
        self.count += 1


async def change_driver(stack, seconds: float, changes: list[float]) -> None:
    """Run the probe task every ~4 s; record each success's emitted_at."""
    watcher = socketio.AsyncClient()
    done = asyncio.Event()

    @watcher.on("task_update")
    async def on_update(event: dict) -> None:
        if event["task_name"] == "idle-probe" and event["status"] == "success":
            changes.append(emitted(event))
            done.set()

    await watcher.connect(stack.base_url, headers={"Authorization": basic_header()}, transports=["websocket"])
    await watcher.call("subscribe", {"room": "tasks", "since": None})
    task_id = next(t["id"] for t in stack.api("GET", "/tasks").json()["tasks"] if t["name"] == "idle-probe")
    end = time.monotonic() + seconds - 3
    async with aiohttp.ClientSession(headers={"Authorization": basic_header()}) as http:
        while time.monotonic() < end:
            await asyncio.sleep(random.uniform(3, 5))
            done.clear()
            await http.post(f"{stack.base_url}/api/tasks/{task_id}/run", json={})
            await asyncio.wait_for(done.wait(), 20)
    await watcher.disconnect()


async def socketio_pages(stack, pages: int, seconds: float, meter: ProcessMeter) -> dict:
    counter = RequestCounter()
    sessions, clients, seen = [], [], []
    for _ in range(pages):
        http = aiohttp.ClientSession(trace_configs=[counter.config])
        client = socketio.AsyncClient(http_session=http)

        @client.on("task_update")
        async def on_update(event: dict) -> None:
            if event["task_name"] == "idle-probe" and event["status"] == "success":
                seen.append(time.time() - emitted(event))

        await client.connect(stack.base_url, headers={"Authorization": basic_header()}, wait_timeout=30)
        await client.call("subscribe", {"room": "tasks", "since": None})
        sessions.append(http)
        clients.append(client)
    await asyncio.sleep(3)  # let every connection upgrade to WebSocket first
    requests_before, bytes_before, changes = counter.count, loopback_bytes(), []
    with cpu_window(meter) as cpu_idle:
        await asyncio.sleep(seconds / 2)  # idle: nothing happens
    with cpu_window(meter) as cpu_busy:
        await change_driver(stack, seconds / 2, changes)
    requests, traffic = counter.count - requests_before, loopback_bytes() - bytes_before
    await asyncio.gather(*(c.disconnect() for c in clients))
    await asyncio.gather(*(s.close() for s in sessions))
    return {
        "requests_per_minute": round(requests * 60 / seconds, 1),
        "server_cpu_percent_idle": cpu_idle["cpu_percent"],
        "server_cpu_percent_with_changes": cpu_busy["cpu_percent"],
        "loopback_kb": round(traffic / 1024, 1),
        "staleness_ms": summary([s * 1000 for s in seen], 1),
        "changes": len(changes),
    }


async def polling_pages(stack, pages: int, seconds: float, meter: ProcessMeter) -> dict:
    counter = RequestCounter()
    stop = asyncio.Event()
    seen: list[float] = []
    changes: list[float] = []

    async def page() -> None:
        last: object = "not fetched yet"
        async with aiohttp.ClientSession(trace_configs=[counter.config],
                                         headers={"Authorization": basic_header()}) as http:
            await asyncio.sleep(random.uniform(0, POLL_INTERVAL))
            while not stop.is_set():
                async with http.get(f"{stack.base_url}/api/tasks") as response:
                    tasks = (await response.json())["tasks"]
                now = time.time()
                probe = next(t for t in tasks if t["name"] == "idle-probe")
                shown = probe["last_run_at"] if probe["last_status"] == "success" else None
                if last != "not fetched yet" and shown and shown != last and changes:
                    seen.append(now - changes[-1])
                if shown:
                    last = shown
                elif last == "not fetched yet":
                    last = None
                try:
                    await asyncio.wait_for(stop.wait(), POLL_INTERVAL)
                except asyncio.TimeoutError:
                    pass

    runners = [asyncio.create_task(page()) for _ in range(pages)]
    await asyncio.sleep(POLL_INTERVAL + 1)
    requests_before, bytes_before = counter.count, loopback_bytes()
    with cpu_window(meter) as cpu_idle:
        await asyncio.sleep(seconds / 2)
    with cpu_window(meter) as cpu_busy:
        await change_driver(stack, seconds / 2, changes)
    requests, traffic = counter.count - requests_before, loopback_bytes() - bytes_before
    stop.set()
    await asyncio.gather(*runners)
    return {
        "requests_per_minute": round(requests * 60 / seconds, 1),
        "server_cpu_percent_idle": cpu_idle["cpu_percent"],
        "server_cpu_percent_with_changes": cpu_busy["cpu_percent"],
        "loopback_kb": round(traffic / 1024, 1),
        "staleness_ms": summary([s * 1000 for s in seen], 1),
        "changes": len(changes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="idle Socket.IO pages against REST polling")
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--tasks", type=int, default=20, help="tasks in the list the pollers fetch")
    parser.add_argument("--no-polling", action="store_true", help="Taskpulse's pages only")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    load_before = load()
    with tempfile.TemporaryDirectory() as tmp, running_system(Path(tmp), workers=1) as stack:
        stack.create_task("idle-probe", "true")
        for i in range(args.tasks - 1):
            stack.create_task(f"idle-filler-{i}", "true", description="x" * 80)
        meter = ProcessMeter(stack.web.pid)
        live = asyncio.run(socketio_pages(stack, args.pages, args.seconds, meter))
        load_live = load()
        polling: dict = {"skipped": True}
        if not args.no_polling:
            try:
                polling = asyncio.run(polling_pages(stack, args.pages, args.seconds, meter))
            except Exception as exc:  # an overloaded machine: keep Taskpulse's figures
                polling = {"failed": f"{type(exc).__name__}: {exc}"}
    emit_json({"pages": args.pages, "seconds": args.seconds, "tasks": args.tasks,
               "taskpulse_socketio": live, "polling_every_2_5_s": polling,
               "load_before": load_before, "load_after_taskpulse": load_live, "load_after": load()}, args.out)


if __name__ == "__main__":
    main()
