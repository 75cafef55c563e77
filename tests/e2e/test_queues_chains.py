"""Queues, chains and concurrency groups through the real system: a Socket.IO server,
two forking rq workers on queue ``taskpulse``, a third started on ``scanners`` only,
and python-socketio clients that see everything live.

- a task on queue ``scanners`` says "no worker" until a scanners worker runs, then runs
  on that worker only, and ``rq info`` lists the queue and the worker;
- a chain of three tasks is seen live in order, each child with trigger ``chain`` and
  its parent's run id, and the run page's API names the parent;
- two tasks of a group limited to 1, pressed at once, never run at the same time (the
  second's ``running`` comes after the first's end, by seq), the second starting within
  a second of the first ending; a slot held by a SIGKILLed worker comes free.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
from datetime import datetime

import pytest

from tests.conftest import start_or_report
from tests.support.processes import VENV_BIN, Stack, wait_until


@pytest.fixture(scope="module")
def qc(request, tmp_path_factory, redis_server, database_url):
    """Web + two workers on queue ``taskpulse`` (the scanners worker is a test's own)."""
    workdir = tmp_path_factory.mktemp("queues-chains")
    redis_server.client().flushdb()
    stack = start_or_report(Stack(redis_server, workdir, async_mode="eventlet", database_url=database_url,
                                  extra_env={"TASKPULSE_ALERT_WATCH_SECONDS": "1"}))
    stack.start_worker()
    failed_before = request.session.testsfailed
    yield stack
    stack.stop()
    if request.session.testsfailed > failed_before:
        print(stack.logs())


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def run_now(stack: Stack, task_id: int) -> dict:
    response = stack.api("POST", f"/tasks/{task_id}/run")
    assert response.status_code == 202, response.text
    return response.json()


def ended(client, run_id: int, timeout: float = 30) -> dict:
    return client.wait_for(
        lambda c: next((e for e in c.run_events(run_id) if e["status"] in ("success", "failed")), None),
        timeout, f"run {run_id} to end")


def test_a_queue_without_a_worker_says_so_live_then_runs_on_its_own_pool(qc, live_client_factory, unique_name):
    task = qc.create_task(f"{unique_name}-scan", "echo scanning", queue="scanners")
    client = live_client_factory(qc.base_url)
    reports: list[dict] = []
    client.sio.on("worker_queues", lambda notice: reports.append(notice["queues"]))
    ack = client.sio.call("subscribe", {"room": "tasks", "since": None, "snapshot": True}, timeout=10)
    assert ack["queues"]["scanners"] == 0 and ack["queues"]["taskpulse"] == 2, ack["queues"]

    queued = run_now(qc, task["id"])
    # The job sits on RQ's scanners list, which no running worker reads (the two idle ones
    # serve taskpulse only), so no fixed wait: the list itself says nobody took it.
    jobs = [j.decode() for j in qc.redis.client().lrange("rq:queue:scanners", 0, -1)]
    assert jobs == [queued["job_id"]]
    assert qc.api("GET", f"/runs/{queued['run_id']}").json()["status"] == "queued"

    worker = qc.start_worker(queues=("scanners",))
    name = worker.name
    wait_until(lambda: any(r.get("scanners") == 1 for r in reports), 15, what="worker_queues: scanners 1")
    done = ended(client, queued["run_id"])
    assert done["status"] == "success"
    assert qc.api("GET", f"/runs/{queued['run_id']}").json()["worker"] == name
    # Stop works on that queue as on any other (RQ's stop command reaches its worker).
    long = qc.create_task(f"{unique_name}-long", "sleep 30", queue="scanners")
    started = run_now(qc, long["id"])
    client.wait_status(started["run_id"], "running")
    assert qc.api("POST", f"/runs/{started['run_id']}/stop").status_code == 202
    client.wait_status(started["run_id"], "stopped")
    plain = qc.create_task(f"{unique_name}-plain", "true")  # rq info lists queues that had a job
    ended(client, run_now(qc, plain["id"])["run_id"])

    shown = subprocess.run([str(VENV_BIN / "rq"), "info", "-c", "worker.rq_settings"], env=qc.service_env(),
                           capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0, shown.stderr
    assert "scanners" in shown.stdout and "taskpulse " in shown.stdout, shown.stdout
    assert f"{name} (" in shown.stdout and "idle scanners" in shown.stdout, shown.stdout
    assert "3 workers, 2 queues" in shown.stdout, shown.stdout


def test_a_chain_of_three_is_seen_live_in_order(qc, live_client_factory, unique_name):
    third = qc.create_task(f"{unique_name}-c", "echo third")
    second = qc.create_task(f"{unique_name}-b", "echo second", then=[third["name"]])
    first = qc.create_task(f"{unique_name}-a", "echo first",
                           then=[{"task": second["name"], "when": "success"}])
    client = live_client_factory(qc.base_url)
    start = run_now(qc, first["id"])
    ended(client, start["run_id"])

    def chained(task_id: int, status: str):
        return next((e for e in sorted(client.events, key=lambda e: e["seq"])
                     if e["task_id"] == task_id and e["status"] == status), None)

    client.wait_for(lambda c: chained(third["id"], "success"), 30, "the third task to succeed")
    a_done = chained(first["id"], "success")
    b_queued, b_done = chained(second["id"], "queued"), chained(second["id"], "success")
    c_queued, c_done = chained(third["id"], "queued"), chained(third["id"], "success")
    assert a_done["seq"] < b_queued["seq"] < b_done["seq"] < c_queued["seq"] < c_done["seq"]
    assert (b_queued["trigger"], b_queued["parent_run_id"]) == ("chain", start["run_id"])
    assert (c_queued["trigger"], c_queued["parent_run_id"]) == ("chain", b_queued["run_id"])
    assert qc.api("GET", f"/runs/{c_queued['run_id']}").json()["parent_run_id"] == b_queued["run_id"]
    # The history lists the chained run with its trigger.
    runs = qc.api("GET", f"/tasks/{third['id']}/runs").json()["runs"]
    assert runs[0]["trigger"] == "chain"


def press_at_once(stack: Stack, task_ids: list[int]) -> list[dict]:
    answers: dict[int, dict] = {}
    gate = threading.Barrier(len(task_ids))

    def press(task_id: int) -> None:
        gate.wait()
        answers[task_id] = run_now(stack, task_id)

    threads = [threading.Thread(target=press, args=(t,)) for t in task_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return [answers[t] for t in task_ids]


def span(client, run_id: int) -> tuple[dict, dict]:
    """The run's ``running`` event and its terminal one, as the client got them."""
    events = sorted(client.run_events(run_id), key=lambda e: e["seq"])
    started = next(e for e in events if e["status"] == "running")
    final = next(e for e in events if e["status"] in ("success", "failed"))
    return started, final


def test_a_group_limited_to_one_never_runs_two_and_hands_the_slot_on_at_once(qc, live_client_factory, unique_name):
    tag = f"g{os.getpid()}"
    assert qc.api("PUT", "/settings/concurrency", json={tag: 1}).status_code == 200
    one = qc.create_task(f"{unique_name}-1", "sleep 2", tags=[tag])
    two = qc.create_task(f"{unique_name}-2", "sleep 2", tags=[tag])
    client = live_client_factory(qc.base_url)
    answers = press_at_once(qc, [one["id"], two["id"]])
    waiting = [a for a in answers if a.get("waiting")]
    assert len(waiting) == 1 and f"group {tag} (1 of 1" in waiting[0]["waiting"], answers
    held = client.wait_for(lambda c: next((e for e in c.run_events(waiting[0]["run_id"])
                                           if e["status"] == "queued" and e["waiting"]), None), 10, "the waiting reason")
    assert held["waiting"] == waiting[0]["waiting"]
    for answer in answers:
        ended(client, answer["run_id"])
    # Judged by seq (the order of the commits) and by when this client got each event:
    # the second's running comes after the first's end, within a second of it.
    (start_a, end_a), (start_b, end_b) = sorted((span(client, a["run_id"]) for a in answers),
                                                key=lambda pair: pair[0]["seq"])
    assert end_a["seq"] < start_b["seq"], f"both ran at once: {start_a['seq']}-{end_a['seq']} and {start_b['seq']}"
    handed_on = start_b["_received"] - end_a["_received"]
    assert handed_on < 1.0, f"the second started {handed_on:.2f} s after the first ended"
    assert at(start_b["started_at"]) >= at(end_a["finished_at"])  # and by the server's clock (seconds)
    print(f"\ngroup slot handed on in {handed_on * 1000:.0f} ms")


def test_a_slot_held_by_a_killed_worker_comes_free(qc, live_client_factory, unique_name):
    tag = f"k{os.getpid()}"
    assert qc.api("PUT", "/settings/concurrency", json={tag: 1}).status_code == 200
    slow = qc.create_task(f"{unique_name}-slow", "sleep 60", tags=[tag])
    next_one = qc.create_task(f"{unique_name}-next", "echo next", tags=[tag])
    client = live_client_factory(qc.base_url)
    first = run_now(qc, slow["id"])
    client.wait_status(first["run_id"], "running")
    second = run_now(qc, next_one["id"])
    assert second.get("waiting")
    runner = qc.api("GET", f"/runs/{first['run_id']}").json()["worker"]
    worker = next(w for w in qc.workers if w.name == runner)
    os.killpg(worker.pid, signal.SIGKILL)  # the worker and RQ's scheduler; the horse notices
    lost = ended(client, first["run_id"], timeout=40)
    assert lost["status"] == "failed"
    done = ended(client, second["run_id"], timeout=40)
    assert done["status"] == "success"
    qc.start_worker()  # leave the module's two workers behind
