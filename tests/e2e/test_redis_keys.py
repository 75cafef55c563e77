"""Redis holds nothing that grows with the number of runs: after a few dozen real runs
of several kinds (success, failure, retried, stopped, python, scheduled, with output)
and alert deliveries (sent, refused and retried), every key either has a TTL or is one
of the bounded keys listed in README ("Redis keys"), and those stay bounded.

The allow-list (tests/support/redis_keys.py) is that README list: a key without a TTL that it does not name
fails the test, and so does an allow-listed registry holding an entry that never expires
or a queue left with jobs once everything has ended."""
from __future__ import annotations

import pytest

from tests.e2e.scheduler_support import SchedulerSystem
from tests.support.live_client import LiveClient
from tests.support.processes import free_port, wait_until
from tests.support.redis_keys import MAX_TTL, key_shapes, keys_without_ttl, unbounded
from webapp.core.models import TERMINAL_STATUSES

ROUNDS = 4


@pytest.fixture(scope="module")
def system(request, tmp_path_factory, redis_server, database_url):
    system = SchedulerSystem(tmp_path_factory.mktemp("redis-keys"), redis_server, database_url)
    system.stack.env.update(TASKPULSE_ALERT_RETRY_DELAYS="1", TASKPULSE_REQUEUE_AFTER_SECONDS="5")
    system.start()
    system.stack.start_worker(queues=("taskpulse-alerts",))
    system.start_scheduler()
    system.wait_for_leader()
    yield system
    if request.session.testsfailed:
        print(system.logs())
    system.stop()


def one_round(system, tasks: dict[str, dict], channels: list[dict], number: int) -> None:
    """About ten runs, two deliveries, a failed sign-in (the limiter's keys) and a live
    client coming and going, then wait until all of them have ended."""
    stack = system.stack
    assert stack.api("GET", "/tasks", auth=(f"nobody-{number}", "wrong")).status_code == 401
    LiveClient(stack.base_url).connect().disconnect()
    for name in ("ok-a", "ok-b", "ok-c", "output", "fail-a", "fail-b", "python", "retried"):
        assert stack.api("POST", f"/tasks/{tasks[name]['id']}/run").status_code == 202
    for channel in channels:
        assert stack.api("POST", f"/channels/{channel['id']}/test").status_code == 202
    slow = stack.api("POST", f"/tasks/{tasks['slow']['id']}/run").json()["run_id"]
    wait_until(lambda: stack.api("GET", f"/runs/{slow}").json()["status"] == "running", 20, interval=0.1,
               what="the slow run to start")
    assert stack.api("POST", f"/runs/{slow}/stop").status_code in (200, 202)
    settle(system, tasks)


def quiet_keys(system, tasks: dict[str, dict], client) -> dict[str, str]:
    """The keys without a TTL once nothing moves: the scheduled task is disabled for the
    listing (a job waiting or running has no TTL in RQ until it ends), then enabled."""
    tick = tasks["tick"]["id"]
    assert system.stack.api("PATCH", f"/tasks/{tick}", json={"enabled": False}).status_code == 200
    settle(system, tasks)
    keys = keys_without_ttl(client)
    assert system.stack.api("PATCH", f"/tasks/{tick}", json={"enabled": True}).status_code == 200
    return keys


def settle(system, tasks: dict[str, dict]) -> None:
    """Every run and every delivery has ended (nothing of them is still moving in Redis)."""
    ids = [task["id"] for task in tasks.values()]
    wait_until(lambda: all(r["status"] in TERMINAL_STATUSES for t in ids for r in system.runs(t)), 60,
               interval=0.2, what="every run to end")
    wait_until(lambda: all(row["status"] != "pending" for row in
                           system.stack.api("GET", "/notifications?since=0").json()["notifications"]),
               30, interval=0.2, what="every delivery to be sent or failed")


def test_every_key_has_a_ttl_or_a_documented_bound(system, redis_server, receiver, unique_name):
    stack = system.stack
    channels = [
        stack.api("POST", "/channels", json={"name": f"{unique_name}-hook",
                                              "url": f"json://127.0.0.1:{receiver.port}/hook"}).json(),
        # Nothing listens there: each delivery is refused, retried once, then failed.
        stack.api("POST", "/channels", json={"name": f"{unique_name}-closed",
                                              "url": f"json://127.0.0.1:{free_port()}/x"}).json(),
    ]
    notify = {"channels": [channels[0]["name"]], "on": ["failure", "recovery"], "after_failures": 1}
    tasks = {
        **{f"ok-{x}": system.create_task(f"{unique_name}-ok-{x}", "true") for x in "abc"},
        "output": system.create_task(f"{unique_name}-output", "for i in 1 2 3 4 5; do echo line $i; done"),
        **{f"fail-{x}": system.create_task(f"{unique_name}-fail-{x}", "exit 2", notify=notify) for x in "ab"},
        "python": system.create_task(f"{unique_name}-python", kind="python",
                                     config={"callable": "worker.examples:count_primes",
                                             "kwargs": {"limit": 100}}),
        "retried": system.create_task(f"{unique_name}-retried", "exit 1",
                                      retries={"max": 1, "backoff": [1]}),
        "slow": system.create_task(f"{unique_name}-slow", "sleep 30"),
        "tick": system.create_task(f"{unique_name}-tick", schedule={"type": "interval", "seconds": 1}),
    }
    client = redis_server.client()
    one_round(system, tasks, channels, 0)
    first = quiet_keys(system, tasks, client)
    assert unbounded(client, first) == []
    for number in range(1, ROUNDS):
        one_round(system, tasks, channels, number)
    runs = sum(len(system.runs(task["id"])) for task in tasks.values())
    assert runs >= 30, runs
    assert len(receiver.on("/hook")) >= ROUNDS
    later = quiet_keys(system, tasks, client)
    print(f"\n{runs} runs, {len(later)} keys without a TTL: {sorted(later)}")
    shapes = key_shapes(client)
    for shape, (count, longest) in sorted(shapes.items()):
        print(f"  {shape}: {count} key(s), longest TTL {longest} s")
    assert {s: t for s, (_, t) in shapes.items() if t > MAX_TTL} == {}
    assert unbounded(client, later) == []
    # Four times the runs, no more keys without a TTL: none is per run or delivery
    # (a queue or a registry may appear once something first waits in it).
    grown = {k for k in set(later) - set(first) if not k.startswith(("rq:queue:", "rq:scheduled:"))}
    assert grown == set(), sorted(grown)
