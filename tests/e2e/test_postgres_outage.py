"""PostgreSQL away for 10 s under the whole system (web, two forking workers, a
scheduler, a live client): a private cluster (tests/support/postgres_cluster.py) is
stopped while runs are in flight and started again.

While it is down the API answers a quick JSON 503 ``database_unavailable``, a page a
signed-in browser asks for is a 503 saying so, a ``subscribe`` on an open connection is
refused naming the database (the connection stays), workers hold their runs' state
changes and retry, and the scheduler fires nothing. Once it is back, with no restart:
the runs that finished meanwhile end with their real state, seen live; the scheduler
makes one catch-up run for the fires it missed (the misfire rule), not a burst."""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
import socketio

from tests.e2e.scheduler_support import SchedulerSystem, sleep_until
from tests.support.live_client import LiveClient
from tests.support.postgres_cluster import require_cluster
from tests.support.processes import ADMIN, wait_until

UTC = timezone.utc
OUTAGE_SECONDS = 10
QUICK_ANSWER = 2.0  # seconds: "at once" for an API call while the database is away


@pytest.fixture(scope="module")
def cluster():
    cluster = require_cluster()  # PostgreSQL not installed: fails under make test
    yield cluster
    cluster.remove()


@pytest.fixture(scope="module")
def system(request, tmp_path_factory, redis_server, cluster):
    system = SchedulerSystem(tmp_path_factory.mktemp("pg-outage"), redis_server, cluster.url, workers=2)
    # Longer than the outage, so no state change gives up meanwhile.
    system.stack.env["TASKPULSE_DB_RETRY_SECONDS"] = "45"
    system.start()
    yield system
    if request.session.testsfailed:  # before stop(): it forgets the schedulers
        print(system.logs())
        print("===== postgres =====\n" + cluster.log()[-3000:])
    system.stop()


def signed_in_browser(base_url: str) -> requests.Session:
    """A browser-like session signed in through the login form (cookie + CSRF)."""
    browser = requests.Session()
    form = browser.get(f"{base_url}/login", timeout=10).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = browser.post(f"{base_url}/login", timeout=10, allow_redirects=False,
                            data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": csrf})
    assert response.status_code == 302, response.text
    return browser


def timed(call) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_postgres_down_for_10s(system, cluster, unique_name):
    stack = system.stack
    scheduler = system.start_scheduler()
    system.wait_for_leader()
    ticker = system.create_task(f"{unique_name}-tick", schedule={"type": "interval", "seconds": 2})
    quick = system.create_task(f"{unique_name}-ok", "sleep 2; echo done")
    failing = system.create_task(f"{unique_name}-fail", "sleep 2; exit 3")
    system.wait_runs(ticker["id"], 1, 10, status="success")
    browser = signed_in_browser(stack.base_url)
    assert browser.get(f"{stack.base_url}/scheduler", timeout=10).status_code == 200
    live = LiveClient(stack.base_url).connect()
    pids = [p.pid for p in (stack.web, *stack.workers, scheduler)]
    try:
        ok_run = stack.api("POST", f"/tasks/{quick['id']}/run").json()["run_id"]
        fail_run = stack.api("POST", f"/tasks/{failing['id']}/run").json()["run_id"]
        live.wait_status(ok_run, "running", 10)
        live.wait_status(fail_run, "running", 10)

        cluster.stop()  # both runs end about 2 s into the outage
        down = datetime.now(UTC)
        down_monotonic = time.monotonic()

        # The API: a JSON 503 that names the database, at once, for reads and writes.
        answers = []
        for method, path in [("GET", "/tasks"), ("GET", f"/runs/{ok_run}"),
                             ("POST", f"/tasks/{quick['id']}/run"), ("GET", "/events?since=0")]:
            response, elapsed = timed(lambda: stack.api(method, path, json={} if method == "POST" else None))
            answers.append((method, path, response.status_code, round(elapsed, 3)))
            assert response.status_code == 503, (path, response.text)
            assert response.json()["error"]["code"] == "database_unavailable"
            assert "database" in response.json()["error"]["message"]
            assert elapsed < QUICK_ANSWER, answers
        print("API while PostgreSQL is down:", answers)
        # The page says so; liveness stays up.
        page = browser.get(f"{stack.base_url}/scheduler", timeout=5)
        assert page.status_code == 503 and "Database unavailable" in page.text
        assert requests.get(f"{stack.base_url}/healthz", timeout=5).status_code == 200
        # An open connection stays open: its subscribe is refused, naming the database.
        ack = live.sio.call("subscribe", {"room": "tasks", "since": live.last_seq}, timeout=5)
        assert ack["ok"] is False and ack["error"].startswith("database unavailable"), ack
        assert live.sio.connected
        # A new connection is refused with the same reason (the page shows it).
        newcomer, refusals = socketio.Client(reconnection=False), []
        newcomer.on("connect_error", refusals.append)
        with pytest.raises(socketio.exceptions.ConnectionError):
            newcomer.connect(stack.base_url, transports=["websocket"], headers=live.headers, wait_timeout=5)
        assert any("database unavailable" in str(r) for r in refusals), refusals
        # The workers hold the finished runs' state changes and retry them.
        wait_until(lambda: all("database unavailable" in w.output() for w in stack.workers), 15,
                   interval=0.2, what="both workers to retry a state change")
        assert time.monotonic() - down_monotonic < OUTAGE_SECONDS
        sleep_until(down.timestamp() + OUTAGE_SECONDS)  # the outage lasts 10 s

        restarting = datetime.now(UTC)  # a scheduler may fire before start() returns
        cluster.start()

        # The runs that finished meanwhile end with their real state, seen live.
        success = live.wait_for(lambda c: next((e for e in c.run_events(ok_run) if e["status"] in
                                                 ("success", "failed")), None), 20, f"run {ok_run} to end")
        failed = live.wait_for(lambda c: next((e for e in c.run_events(fail_run) if e["status"] in
                                                ("success", "failed")), None), 20, f"run {fail_run} to end")
        assert (success["status"], failed["status"]) == ("success", "failed"), (success, failed)
        assert not success["_replayed"] and not failed["_replayed"]
        assert "3" in (failed["error"] or ""), failed
        assert stack.api("GET", f"/runs/{ok_run}").json()["status"] == "success"
        assert stack.api("GET", f"/runs/{fail_run}").json()["status"] == "failed"
        # Nothing needed a restart: same processes, pages and subscribes work again.
        assert browser.get(f"{stack.base_url}/scheduler", timeout=10).status_code == 200
        ack = live.sio.call("subscribe", {"room": "tasks", "since": live.last_seq}, timeout=10)
        assert ack["ok"] is True, ack
        # The scheduler fired nothing while the database was away, then one run stood
        # for the fires it missed, and it went on at its pace.
        wait_until(lambda: len([r for r in system.runs(ticker["id"]) if r["queued_at"] > restarting]) >= 2, 15,
                   interval=0.2, what="the ticker to fire again")
        runs = system.runs(ticker["id"])
        assert [r for r in runs if down + timedelta(seconds=1) < r["queued_at"] < restarting] == []
        after = [r for r in runs if r["queued_at"] > restarting]
        catch_up = [r for r in after if r["scheduled_for"] < restarting]
        assert len(catch_up) <= 1, after
        assert all(r["scheduled_for"] > after[0]["queued_at"] for r in after[1:]), after
        log = scheduler.output()
        assert "tick failed" in log and "ticking again" in log, log[-3000:]
        system.wait_ended([ticker["id"], quick["id"], failing["id"]], 20)
        assert [p.pid for p in (stack.web, *stack.workers, scheduler)] == pids
        assert all(p.alive() for p in (stack.web, *stack.workers, scheduler))
    finally:
        live.disconnect()
