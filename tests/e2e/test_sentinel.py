"""Redis Sentinel: the live system (web server, a forking rq worker started as the
Procfile starts it, a scheduler) on ``REDIS_URL=redis+sentinel://...`` with a master, a
replica and three sentinels; Run Now is seen live, and stays so across a failover that
no Taskpulse process is restarted for."""
from __future__ import annotations

import subprocess
import time

import pytest

from tests.support.processes import ROOT, VENV_BIN, Process, RedisSentinelSet, Stack, wait_until
from webapp.scheduling.pause import LEADER_KEY

MESSAGE_QUEUE_CHANNEL = "flask-socketio"


@pytest.fixture(scope="module")
def sentinel_stack(request, tmp_path_factory, database_url):
    workdir = tmp_path_factory.mktemp("sentinel")
    redis_set = RedisSentinelSet(workdir).start()
    stack = Stack(redis_set, workdir, database_url=database_url)
    scheduler = Process("scheduler-sentinel", [str(VENV_BIN / "python"), "-m", "worker.scheduler"],
                        stack.env, workdir)
    try:
        stack.start()
        scheduler.start()
        yield stack, redis_set, scheduler
    finally:
        scheduler.stop()
        stack.stop()
        redis_set.stop()
        if request.session.testsfailed:
            print(stack.logs(), f"===== scheduler =====\n{scheduler.output()[-4000:]}", redis_set.logs())


def run_now(stack: Stack, task_id: int) -> int:
    response = stack.api("POST", f"/tasks/{task_id}/run")
    assert response.status_code == 202, response.text
    return response.json()["run_id"]


def assert_seen_live(client, run_id: int) -> None:
    client.wait_status(run_id, "success", timeout=30)
    events = client.run_events(run_id)
    assert [e["status"] for e in events] == ["queued", "running", "success"]
    assert not any(e["_replayed"] for e in events), "an event came by replay, not live"


def test_run_now_is_live_through_sentinel(sentinel_stack, live_client_factory, unique_name):
    stack, redis_set, _ = sentinel_stack
    assert stack.env["REDIS_URL"].startswith("redis+sentinel://")
    client = live_client_factory(stack.base_url)
    task = stack.create_task(unique_name, "echo through sentinel")
    run_id = run_now(stack, task["id"])
    assert_seen_live(client, run_id)
    assert "through sentinel" in stack.api("GET", f"/runs/{run_id}").json()["output"]

    master = redis_set.client()
    wait_until(lambda: master.exists(LEADER_KEY), 15, what="the scheduler to lead through sentinel")
    # A failed sign-in is counted by Flask-Limiter in the master's db, not in memory.
    assert stack.api("GET", "/tasks", auth=("admin", "wrong password")).status_code == 401
    assert any(master.scan_iter("LIMITS*")), "the login limiter did not write to Redis"
    info = subprocess.run([str(VENV_BIN / "rq"), "info", "-c", "worker.rq_settings", "--only-workers"],
                          cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=30)
    assert info.returncode == 0, info.stderr
    assert stack.workers[0].name in info.stdout


def test_failover_keeps_run_now_live_without_restarts(sentinel_stack, live_client_factory, unique_name):
    stack, redis_set, scheduler = sentinel_stack
    processes = [stack.web, *stack.workers, scheduler]
    pids = [p.pid for p in processes]
    client = live_client_factory(stack.base_url)
    task = stack.create_task(unique_name, "echo after failover")

    old = redis_set.kill_master()
    killed = time.monotonic()
    new = redis_set.wait_for_failover(old)
    promoted = time.monotonic()
    assert new == redis_set.replica_port
    master = redis_set.client()
    # The Socket.IO server resubscribes on its own (with back-off); until it has, an
    # event would reach the page by replay rather than live.
    wait_until(lambda: master.pubsub_numsub(MESSAGE_QUEUE_CHANNEL)[0][1] >= 1, 30,
               what="the Socket.IO server to listen on the new master")

    listening = time.monotonic()
    run_id = run_now(stack, task["id"])
    assert_seen_live(client, run_id)
    print(f"\nmaster SIGKILL -> replica promoted {promoted - killed:.1f} s, -> Socket.IO server listening "
          f"{listening - killed:.1f} s, -> Run Now success {time.monotonic() - killed:.1f} s")
    wait_until(lambda: master.exists(LEADER_KEY), 15, what="the scheduler to lead on the new master")
    assert all(p.alive() for p in processes) and [p.pid for p in processes] == pids
