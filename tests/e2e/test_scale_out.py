"""Scale-out: two Socket.IO servers (one behind the shipped nginx config), two forking
workers and two schedulers sharing one Redis and one PostgreSQL. Every client, on
either server, gets every event once, and each run's events in order."""
from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.support.live_client import LiveClient
from tests.support.nginx import Nginx
from tests.support.processes import VENV_BIN, Process, RedisServer, Stack

ORDER = {"queued": 0, "running": 1, "success": 2}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, postgres_url):
    workdir = tmp_path_factory.mktemp("cluster")
    redis_server = RedisServer(workdir).start()
    a = Stack(redis_server, workdir, database_url=postgres_url).start(workers=1)
    b = Stack(redis_server, workdir, database_url=postgres_url, async_mode="threading").start(workers=1)
    schedulers = [
        Process(f"scheduler-{i}", [str(VENV_BIN / "python"), "-m", "worker.scheduler"], a.env, workdir).start()
        for i in range(2)
    ]
    proxy = Nginx(workdir, [a.port, b.port]).start()
    yield a, b, proxy
    proxy.stop()
    for scheduler in schedulers:
        scheduler.stop()
    b.stop()
    a.stop()
    redis_server.stop()


def test_clients_on_both_servers_get_every_event_once_in_order(cluster):
    a, b, proxy = cluster
    clients = [LiveClient(a.base_url).connect(), LiveClient(b.base_url).connect(),
               LiveClient(proxy.url, transports=["polling", "websocket"]).connect()]
    try:
        manual = [a.create_task(f"scale-manual-{i}", "true") for i in range(6)]
        ticking = a.create_task("scale-ticking", "true", schedule={"type": "interval", "seconds": 1})
        run_ids = []

        def fires_seen() -> int:
            return sum(1 for e in clients[0].events if e["task_id"] == ticking["id"] and e["status"] == "queued")

        # At least 12 s of Run Nows through both servers, and on until the schedulers have
        # fired the 1 s task 8 times (a loaded machine skips fires while a run is queued).
        window_end, deadline = time.monotonic() + 12, time.monotonic() + 90
        while time.monotonic() < deadline and (time.monotonic() < window_end or fires_seen() < 8):
            for i, task in enumerate(manual):
                server = a if i % 2 else b  # Run Now through both servers
                response = server.api("POST", f"/tasks/{task['id']}/run")
                if response.status_code == 202:
                    run_ids.append(response.json()["run_id"])
            time.sleep(0.5)
        a.api("PATCH", f"/tasks/{ticking['id']}", json={"enabled": False})
        # Let everything in flight finish.
        time.sleep(3)
        for client in clients:
            client.wait_for(lambda c: all(any(e["run_id"] == r and e["status"] == "success" for e in c.events)
                                          for r in run_ids), 60, "every manual run to succeed")
        head = a.api("GET", "/events?since=0&limit=1").json()["head"]
        for client in clients:
            client.wait_for(lambda c: c.last_seq is not None and c.last_seq >= head, 30, "the head seq")

        scheduled = [e for e in clients[0].events if e["task_id"] == ticking["id"] and e["status"] == "queued"]
        assert len(scheduled) >= 8, "the schedulers did not fire the 1 s task"
        fires = Counter(e["run_id"] for e in scheduled)
        assert all(count == 1 for count in fires.values())
        reference = {e["seq"] for e in clients[0].events}
        for client in clients:
            seqs = [e["seq"] for e in client.events]
            assert len(seqs) == len(set(seqs)), "an event arrived twice"
            assert set(seqs) == reference, "clients saw different events"
            by_run: dict[int, list[str]] = {}
            for event in sorted(client.events, key=lambda e: e["seq"]):
                by_run.setdefault(event["run_id"], []).append(event["status"])
            for run_id, statuses in by_run.items():
                assert statuses == sorted(statuses, key=lambda s: ORDER.get(s, 3)), (run_id, statuses)
    finally:
        for client in clients:
            client.disconnect()
