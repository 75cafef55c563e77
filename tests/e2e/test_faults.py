"""Faults with real processes: events whose publish was lost, Redis and server restarts."""
from __future__ import annotations

import signal
import sqlite3
import threading
import time

import pytest

from tests.support.live_client import LiveClient
from tests.support.processes import RedisServer, Stack, free_port


def test_missed_tail_is_recovered_through_seq_head(eventlet_stack, live_client_factory, unique_name):
    """Events written while their publish failed reach a connected client anyway."""
    stack = eventlet_stack
    client = live_client_factory(stack.base_url)
    task = stack.create_task(unique_name, "true")
    # A process whose Redis is unreachable: the run and its events are committed, the
    # publishes are dropped, the enqueue fails and the run ends failed.
    dead_redis = dict(stack.env, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    stack.env, saved = dead_redis, stack.env
    try:
        result = stack.flask("tasks", "run", unique_name, check=False)
    finally:
        stack.env = saved
    assert result.returncode != 0 and "unavailable" in result.stderr
    final = client.wait_for(
        lambda c: next((e for e in c.events if e["task_id"] == task["id"] and e["status"] == "failed"), None),
        20, "the unpublished events to arrive through seq_head",
    )
    assert final["_replayed"] and "could not queue" in final["error"]
    assert [e["status"] for e in client.events if e["task_id"] == task["id"]] == ["queued", "failed"]
    assert client.resyncs >= 1


@pytest.fixture(scope="module")
def aof_stack(tmp_path_factory):
    """Its own Redis with the append-only file on (so a restart keeps the queue), server
    and worker: these tests stop and restart Redis and the server."""
    workdir = tmp_path_factory.mktemp("faults")
    redis_server = RedisServer(workdir, appendonly=True).start()
    stack = Stack(redis_server, workdir, extra_env={"TASKPULSE_DB_RETRY_SECONDS": "60"}).start()
    yield stack
    stack.stop()
    redis_server.stop()


def _client(stack) -> LiveClient:
    return LiveClient(stack.base_url).connect()


def test_redis_down_for_10s_then_back(aof_stack, unique_name):
    stack = aof_stack
    client = _client(stack)
    try:
        task = stack.create_task(unique_name, "sleep 3; echo done")
        # As the run page and the history page listen: the task's own room only.
        task_client = LiveClient(stack.base_url, room=f"task:{task['id']}").connect()
        run = stack.api("POST", f"/tasks/{task['id']}/run").json()
        client.wait_status(run["run_id"], "running")
        task_client.wait_status(run["run_id"], "running")
        stack.redis.stop()  # the run finishes while Redis is away: its publish is dropped
        time.sleep(10)
        stack.redis.start()
        back = time.time()  # the clients stamp what they receive with time.time()
        # The database says success; every connected client shows it within 5 s of
        # Redis's return, without reconnecting (the seq_head notice brings the missed tail).
        for watcher in (client, task_client):
            watcher.wait_status(run["run_id"], "success", timeout=15)
            assert any(e["run_id"] == run["run_id"] and e["status"] == "success"
                       and e["_received"] <= back + 5 for e in watcher.events), watcher.room
            assert watcher.connects == 1
        task_client.disconnect()
        assert stack.api("GET", f"/runs/{run['run_id']}").json()["status"] == "success"
        # Web and worker resumed by themselves: a new run goes all the way live.
        second = None
        deadline = time.monotonic() + 30
        while second is None and time.monotonic() < deadline:
            response = stack.api("POST", f"/tasks/{task['id']}/run")
            if response.status_code == 202:
                second = response.json()
            else:
                time.sleep(1)
        assert second is not None, "Run Now did not recover after Redis came back"
        client.wait_status(second["run_id"], "success", timeout=40)
        assert [s for s in client.statuses(second["run_id"])] == ["queued", "running", "success"]
    finally:
        client.disconnect()


def test_server_killed_and_restarted_clients_resync(aof_stack, unique_name):
    stack = aof_stack
    client = _client(stack)
    try:
        stack.create_task(unique_name, "true")
        stack.web.stop(signal.SIGKILL)
        result = stack.flask("tasks", "run", unique_name)  # while no server runs
        run_id = int(result.stdout.split()[2])
        stack.start_web()
        client.wait_status(run_id, "success", timeout=30)
        assert client.connects >= 2  # it reconnected by itself and replayed
        assert client.statuses(run_id) == ["queued", "running", "success"]
    finally:
        client.disconnect()


def test_database_locked_for_a_while_loses_no_state(aof_stack, unique_name):
    """SQLite held under an exclusive lock while a run finishes: the worker's status
    update retries until the lock goes, then commits and publishes."""
    stack = aof_stack
    client = _client(stack)
    db_path = stack.env["DATABASE_URL"].removeprefix("sqlite:///")
    try:
        task = stack.create_task(unique_name, "sleep 2")
        run = stack.api("POST", f"/tasks/{task['id']}/run").json()
        client.wait_status(run["run_id"], "running")
        lock = sqlite3.connect(db_path, timeout=1, check_same_thread=False)
        lock.execute("BEGIN EXCLUSIVE")
        released = threading.Timer(9, lock.rollback)  # longer than SQLite's 5 s busy timeout
        released.start()
        try:
            client.wait_status(run["run_id"], "success", timeout=40)
        finally:
            released.join()
            lock.close()
        assert stack.api("GET", f"/runs/{run['run_id']}").json()["status"] == "success"
        worker_log = stack.workers[0].output()
        assert "database unavailable" in worker_log
    finally:
        client.disconnect()
