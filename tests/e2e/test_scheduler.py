"""The scheduler through the real system: ``python -m worker.scheduler`` processes beside
the Socket.IO server and a forking rq worker, on a private redis-server.

Claims: fires come on time and each exactly once with several schedulers (even while
leadership changes hands), a SIGKILLed leader is replaced within 10 s, missed fires give
one catch-up run (or none), and pause/disable hold fires without a burst afterwards.

No test sleeps and then counts: each waits for the runs (or, to show that no run came,
for the leader to have handled the fires in question: ``next_run_at`` moved past them),
and measures windows on the runs' own times.
"""
from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from itertools import pairwise

import pytest

from tests.e2e.scheduler_support import SchedulerSystem, sleep_until
from tests.support.processes import wait_until
from webapp.scheduling.pause import LEADER_KEY

UTC = timezone.utc


@pytest.fixture(scope="module")
def system(request, tmp_path_factory, redis_server, database_url):
    system = SchedulerSystem(tmp_path_factory.mktemp("scheduler"), redis_server, database_url).start()
    yield system
    system.stop()
    if request.session.testsfailed:
        print(system.logs())


@pytest.fixture(autouse=True)
def clean(system):
    """Each test starts without schedulers and leaves no scheduled task behind."""
    yield
    system.stop_schedulers()
    system.delete_tasks()


def utcnow() -> datetime:
    return datetime.now(UTC)


def assert_one_run_per_fire(runs: list[dict]) -> None:
    counts = Counter(r["scheduled_for"] for r in runs)
    doubled = {k: v for k, v in counts.items() if v > 1}
    assert not doubled, f"fires with more than one run: {doubled}"


def assert_no_burst(runs: list[dict]) -> None:
    """The first run after a gap stands for every fire missed in it: each later run is
    for a fire that came after that first run was queued."""
    first, later = runs[0], runs[1:]
    assert all(r["scheduled_for"] > first["queued_at"] for r in later), \
        [(r["scheduled_for"], r["queued_at"]) for r in runs]


def test_every_two_seconds_fires_ten_times_in_twenty_seconds(system, unique_name):
    system.start_scheduler()
    system.wait_for_leader()
    task = system.create_task(unique_name, schedule={"type": "interval", "seconds": 2})
    # The window opens when the first run is queued and lasts 20 s. It is decided once
    # next_run_at reaches its end: every fire due before then has been handled (a run
    # is committed with the move of next_run_at), and none after can be queued in it.
    opened = system.wait_runs(task["id"], 1, 10)[0]["queued_at"]
    closed = opened + timedelta(seconds=20)
    system.wait_advanced(task["id"], closed - timedelta(microseconds=1), 35)
    system.wait_ended([task["id"]], 10)
    runs = system.runs(task["id"])
    in_window = [r for r in runs if opened <= r["queued_at"] < closed]
    # A 20 s window holds exactly 10 fire instants of a 2 s grid; counting by when runs
    # were queued (instant + lag, lag jittering by milliseconds) can move one fire at
    # either edge in or out: 10 +- 1.
    assert 9 <= len(in_window) <= 11, [r["scheduled_for"] for r in runs]
    # The exact claims: every fire of the grid has one run, queued within a tick.
    assert_one_run_per_fire(runs)
    fires = [r["scheduled_for"] for r in runs]
    assert all(b - a == timedelta(seconds=2) for a, b in pairwise(fires)), fires
    lags = [(r["queued_at"] - r["scheduled_for"]).total_seconds() for r in runs]
    assert all(0 <= lag < 1.0 for lag in lags), lags
    assert {(r["trigger"], r["status"]) for r in in_window} == {("schedule", "success")}


def test_three_schedulers_enqueue_each_fire_exactly_once(system, unique_name, redis_server):
    for _ in range(3):
        system.start_scheduler()
    system.wait_for_leader()
    every_1s = system.create_task(unique_name + "-1s", overlap="allow",
                                  schedule={"type": "interval", "seconds": 1})
    every_2s = system.create_task(unique_name + "-2s", schedule={"type": "interval", "seconds": 2})
    every_3s = system.create_task(unique_name + "-3s", overlap="queue",
                                  schedule={"type": "interval", "seconds": 3})
    tasks = (every_1s, every_2s, every_3s)
    started = utcnow()
    # First half: 30 s of fires (the 1 s task's runs are the clock) under one leader.
    system.wait_fired(every_1s["id"], started + timedelta(seconds=30), 45)
    # Second half: force leadership to change hands every ~0.7 s. The deposed leader may
    # still be mid-tick while the next one fires: the database guards must hold alone.
    stop_churn = threading.Event()
    deposed: Counter[str] = Counter()  # token -> how often its lock was taken away

    def churn():
        client = system.redis.client()
        while not stop_churn.wait(0.7):
            token = client.getdel(LEADER_KEY)
            if token:
                deposed[token.decode()] += 1

    churner = threading.Thread(target=churn, daemon=True)
    churner.start()
    try:
        system.wait_fired(every_1s["id"], started + timedelta(seconds=60), 45)
    finally:
        stop_churn.set()
        churner.join()
    for task in tasks:
        system.stack.api("PATCH", f"/tasks/{task['id']}", json={"enabled": False})
    disabled_at = utcnow()
    # Before counting, every tick that could still add a run must be over. A deposed
    # leader notices at its next turn of the loop, after its tick, and logs it: one line
    # each time its lock was taken.
    wait_until(lambda: all(system.process_of(token).output().count("lost the leader lock") >= times
                           for token, times in deposed.items()),
               10, interval=0.1, what="every deposed leader to finish its tick and notice")
    # The leader ticks on past the disable: the 1 s task's next_run_at moves past a fire
    # after it (disabled tasks only advance), in a tick that began after it, so the one
    # in progress then has ended.
    system.wait_advanced(every_1s["id"], disabled_at + timedelta(seconds=1), 10)
    system.wait_ended([t["id"] for t in tasks], 15)

    assert len(deposed) >= 2, "leadership did change hands"
    for task, period in ((every_1s, 1), (every_2s, 2), (every_3s, 3)):
        runs = system.runs(task["id"])
        assert_one_run_per_fire(runs)
        fires = sorted(r["scheduled_for"] for r in runs)
        # No fire lost either: consecutive fires of the grid, one run each.
        gaps = [(b - a).total_seconds() for a, b in pairwise(fires)]
        assert all(g == period for g in gaps), (task["name"], gaps)
        assert len(fires) >= 60 // period - 2, (task["name"], len(fires))
        # Each run reached RQ and a worker once: one job id each, each finished once.
        assert len({r["job_id"] for r in runs}) == len(runs)
        assert {r["status"] for r in runs} <= {"success", "skipped"}, Counter(r["status"] for r in runs)


def test_sigkilled_leader_is_replaced_within_ten_seconds(system, unique_name):
    for _ in range(3):
        system.start_scheduler()
    first = system.wait_for_leader()
    task = system.create_task(unique_name, overlap="allow", schedule={"type": "interval", "seconds": 1})
    system.wait_runs(task["id"], 2, 10, status="success")
    system.kill(system.process_of(first))
    killed = utcnow()
    second = system.wait_for_leader(timeout=10, other_than=first)
    assert (utcnow() - killed).total_seconds() < 10
    assert system.process_of(second).alive()
    first_after = wait_until(
        lambda: next((r for r in system.runs(task["id"]) if r["queued_at"] > killed), None),
        10 - (utcnow() - killed).total_seconds(), what="a fire after the kill")
    assert (first_after["queued_at"] - killed).total_seconds() < 10
    # Decided once the grid goes on after that run: a burst for the fires missed
    # meanwhile would come before any fire after it (a task's fires go in order).
    runs = system.wait_fired(task["id"], first_after["queued_at"] + timedelta(microseconds=1), 10)
    assert_one_run_per_fire(runs)
    # The ~5 fires due while nobody led became one run, not a burst.
    assert_no_burst([r for r in runs if r["queued_at"] > killed])


def test_missed_fires_give_one_catch_up_run_or_none(system, unique_name, live_client_factory):
    watcher = live_client_factory(system.stack.base_url)
    changes = []
    watcher.sio.on("task_changed", changes.append)
    scheduler = system.start_scheduler()
    system.wait_for_leader()
    scheduler.stop()  # SIGTERM: it hands the lock back
    at = (utcnow() + timedelta(seconds=3)).replace(microsecond=0)
    once = {"type": "once", "at": at.isoformat().replace("+00:00", "Z")}
    catch_up = system.create_task(unique_name + "-once-run", schedule=once)
    skip = system.create_task(unique_name + "-once-skip", schedule=once, misfire="skip")
    frequent = system.create_task(unique_name + "-2s", schedule={"type": "interval", "seconds": 2})
    # Down until the one-off fire is 14 s late: past "on time" (10 s), within the grace.
    # (This is the outage itself, not a wait for something to happen.)
    sleep_until(at.timestamp() + 14)
    system.start_scheduler()
    system.wait_for_leader()
    back = utcnow()

    [run] = system.wait_runs(catch_up["id"], 1, 10, status="success")
    assert run["scheduled_for"] == at and run["trigger"] == "schedule"
    # The skipped one-off made no run, so pages learn its next_run_at from task_changed;
    # that event also says the leader has handled it (next_run_at None: it cannot fire).
    wait_until(lambda: any(c["task_id"] == skip["id"] and c["action"] == "updated"
                           and c["task"]["next_run_at"] is None for c in changes),
               10, what="task_changed of the skipped one-off")
    assert system.task(skip["id"])["next_run_at"] is None and system.task(catch_up["id"])["next_run_at"] is None
    assert system.runs(catch_up["id"]) == [run]
    assert system.runs(skip["id"]) == []
    # About eight 2 s fires were missed: one run for the latest, then the grid again
    # (decided at the first fire after that run: a burst would come before it).
    first = system.wait_runs(frequent["id"], 1, 10)[0]
    runs = system.wait_fired(frequent["id"], first["queued_at"] + timedelta(microseconds=1), 10)
    assert 1 <= len(runs) <= 4 and runs[0]["queued_at"] < back + timedelta(seconds=1)
    assert runs[0]["scheduled_for"] > at + timedelta(seconds=10)  # the latest missed fire
    assert_no_burst(runs)
    assert_one_run_per_fire(runs)


def test_pause_and_disable_hold_fires_and_resume_without_a_burst(system, unique_name):
    from webapp import create_app
    from webapp.scheduling.pause import pause_scheduler, resume_scheduler

    app = create_app({"SQLALCHEMY_DATABASE_URI": system.stack.env["DATABASE_URL"],
                      "REDIS_URL": system.stack.env["REDIS_URL"], "ASYNC_MODE": "threading"})
    system.start_scheduler()
    system.wait_for_leader()
    paused_task = system.create_task(unique_name + "-p", schedule={"type": "interval", "seconds": 1})
    disabled = system.create_task(unique_name + "-d", schedule={"type": "interval", "seconds": 1})
    system.wait_runs(paused_task["id"], 1, 10, status="success")

    with app.app_context():
        assert pause_scheduler(by="test")["paused"] is True
    assert system.stack.api("PATCH", f"/tasks/{disabled['id']}", json={"enabled": False}).ok
    # A tick that handles a fire due after this began after the pause (and after the
    # one, if any, in progress at it): from then on every tick sees the pause.
    switched = utcnow()
    system.wait_advanced(paused_task["id"], switched + timedelta(seconds=1), 10)
    paused_at = utcnow()
    # Four fires of each then pass: the leader handles them (next_run_at moves past
    # them), which proves it ran meanwhile, and makes no run.
    for task in (paused_task, disabled):
        system.wait_advanced(task["id"], paused_at + timedelta(seconds=4), 10)
    assert [r for r in system.runs(paused_task["id"]) if r["queued_at"] > paused_at] == []
    assert [r for r in system.runs(disabled["id"]) if r["queued_at"] > paused_at] == []
    # Run Now still works while paused and while disabled.
    manual = system.stack.api("POST", f"/tasks/{disabled['id']}/run")
    assert manual.status_code == 202
    system.wait_runs(disabled["id"], 1, 10, trigger="manual", status="success")
    # The paused task's next_run_at kept moving, so resuming starts no catch-up.
    assert system.task(paused_task["id"])["next_run_at"] > utcnow() - timedelta(seconds=1.5)

    with app.app_context():
        assert resume_scheduler(by="test")["paused"] is False
    assert system.stack.api("PATCH", f"/tasks/{disabled['id']}", json={"enabled": True}).ok
    resumed = utcnow()
    for task in (paused_task, disabled):
        # Decided once a run for a fire 3 s after the resume is there: the fires before
        # it, and any catch-up the pause could have caused, have been handled.
        runs = system.wait_fired(task["id"], resumed + timedelta(seconds=3), 10)
        after = [r for r in runs if r["queued_at"] > resumed and r["trigger"] == "schedule"]
        # ~3 fires in 3 s, each for a fire after the resume: nothing from the pause.
        in_window = [r for r in after if r["scheduled_for"] < resumed + timedelta(seconds=3)]
        assert 2 <= len(in_window) <= 4, after
        assert all(r["scheduled_for"] > resumed - timedelta(seconds=1) for r in after), after
    with app.app_context():
        from webapp.core.extensions import db

        db.engine.dispose()
