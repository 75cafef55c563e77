"""Overlap policies through the real system (one scheduler, two forking workers so that
runs could overlap): ``skip`` records skipped runs that clients see live, ``queue`` runs
fires back to back with at most one waiting, ``allow`` lets runs overlap."""
from __future__ import annotations

import re
from itertools import pairwise

import pytest

from tests.e2e.scheduler_support import SchedulerSystem
from tests.support.processes import wait_until


@pytest.fixture(scope="module")
def system(request, tmp_path_factory, redis_server, database_url):
    system = SchedulerSystem(tmp_path_factory.mktemp("overlap"), redis_server, database_url,
                             workers=2).start()
    system.start_scheduler()
    system.wait_for_leader()
    yield system
    system.stop()
    if request.session.testsfailed:
        print(system.logs())


@pytest.fixture(autouse=True)
def clean(system):
    yield
    system.delete_tasks()


def executed(runs: list[dict]) -> list[dict]:
    return [r for r in runs if r["started_at"] is not None]


def test_skip_makes_skipped_runs_seen_live(system, live_client_factory, unique_name):
    client = live_client_factory(system.stack.base_url)
    task = system.create_task(unique_name, "sleep 3", schedule={"type": "interval", "seconds": 1})

    def mine(c):
        return [e for e in c.events if e["task_id"] == task["id"]]

    client.wait_for(lambda c: any(e["status"] == "success" for e in mine(c)), 20, "the first run to end")
    first_run = next(e["run_id"] for e in mine(client) if e["status"] == "queued")
    ended = next(e["seq"] for e in mine(client) if e["status"] == "success")
    skips = [e for e in mine(client) if e["status"] == "skipped" and e["seq"] < ended]
    assert len(skips) >= 2  # fires at about +1 s and +2 s of a 3 s run
    for event in skips:
        assert not event["_replayed"] and event["trigger"] == "schedule"
        assert re.fullmatch(rf"skipped: run {first_run} is still (queued|running) \(overlap: skip\)",
                            event["error"]), event["error"]
        assert client.statuses(event["run_id"]) == ["skipped"]  # born skipped: one event
        assert event["last_status"] in ("queued", "running")  # the task follows the run that runs
        assert event["finished_at"] and event["started_at"] is None
    assert client.statuses(first_run) == ["queued", "running", "success"]
    runs = executed(system.runs(task["id"]))
    assert all(b["started_at"] >= a["finished_at"] for a, b in pairwise(runs) if a["finished_at"])


def test_queue_keeps_one_waiting_run_and_runs_back_to_back(system, live_client_factory, unique_name):
    client = live_client_factory(system.stack.base_url)
    task = system.create_task(unique_name, "sleep 2", overlap="queue",
                              schedule={"type": "interval", "seconds": 1})
    runs = system.wait_runs(task["id"], 3, 25, status="success")
    system.stack.api("PATCH", f"/tasks/{task['id']}", json={"enabled": False})
    runs = executed(system.runs(task["id"]))[:3]
    # Never two at once, and each waiting run started right after the one before it.
    for a, b in pairwise(runs):
        assert b["started_at"] >= a["finished_at"]
        assert (b["started_at"] - a["finished_at"]).total_seconds() < 1.5
    waiting = runs[1]
    assert client.wait_status(waiting["id"], "success", 10)
    assert client.statuses(waiting["id"]) == ["queued", "running", "success"]
    assert (waiting["queued_at"] < runs[0]["finished_at"]), "it was queued while run 1 ran"
    skipped = [r for r in system.runs(task["id"]) if r["status"] == "skipped"]
    assert skipped and all("is already waiting (overlap: queue)" in r["error"] for r in skipped)


def test_allow_lets_runs_overlap(system, unique_name):
    task = system.create_task(unique_name, "sleep 2.5", overlap="allow",
                              schedule={"type": "interval", "seconds": 1})
    wait_until(lambda: len([r for r in system.runs(task["id"]) if r["status"] == "running"]) >= 2,
               15, what="two runs of one task running at once")
    system.stack.api("PATCH", f"/tasks/{task['id']}", json={"enabled": False})
    assert not [r for r in system.runs(task["id"]) if r["status"] == "skipped"]
