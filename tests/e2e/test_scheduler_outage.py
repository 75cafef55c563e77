"""The scheduler rides out a Redis restart and a locked database: the process stays up,
says so once in its log, and fires again (one run for the fires missed meanwhile).

This module has its own redis-server, so stopping it disturbs no other test. The tests
wait for what the scheduler does (its log lines, its runs), not for a time."""
from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.scheduler_support import SchedulerSystem
from tests.support.processes import RedisServer, wait_until

UTC = timezone.utc


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("outage-redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def system(request, tmp_path_factory, own_redis, database_url):
    system = SchedulerSystem(tmp_path_factory.mktemp("outage"), own_redis, database_url).start()
    yield system
    system.stop()
    if request.session.testsfailed:
        print(system.logs())


@pytest.fixture(autouse=True)
def clean(system):
    yield
    system.stop_schedulers()
    system.delete_tasks()


def fired_after(system, task_id: int, instant: datetime) -> list[dict]:
    return [r for r in system.runs(task_id) if r["queued_at"] > instant]


def wait_fires_again(system, task_id: int, instant: datetime) -> list[dict]:
    """Wait for the first run queued after ``instant`` and for the fire after it: by then
    the fires missed before it have been handled (a task's fires go in order), so a
    burst of them would be there. Returns the task's runs."""
    first = wait_until(lambda: next(iter(fired_after(system, task_id, instant)), None), 15,
                       interval=0.1, what=f"a run of task {task_id} after {instant}")
    return system.wait_fired(task_id, first["queued_at"] + timedelta(microseconds=1), 10)


def test_redis_restart(system, own_redis, unique_name):
    scheduler = system.start_scheduler()
    system.wait_for_leader()
    task = system.create_task(unique_name, schedule={"type": "interval", "seconds": 1})
    system.wait_runs(task["id"], 2, 10)
    own_redis.stop()
    down = datetime.now(UTC)
    # The scheduler meets the outage: its log says so ...
    wait_until(lambda: "Redis unavailable" in scheduler.output(), 10, interval=0.1,
               what="the scheduler to log that Redis is away")
    # ... and the outage lasts until four fires have been missed: the task's next_run_at
    # (nobody leads, so nobody moves it) is three periods in the past.
    missed = system.task(task["id"])["next_run_at"]
    wait_until(lambda: datetime.now(UTC) > missed + timedelta(seconds=3), 10, interval=0.1,
               what="four fires to be missed")
    assert scheduler.alive()
    assert system.task(task["id"])["next_run_at"] == missed  # no tick while Redis was away
    own_redis.start()  # same port, empty (no persistence): the lock is gone too
    up = datetime.now(UTC)
    runs = wait_fires_again(system, task["id"], up)
    assert scheduler.alive()
    # Nothing fired while Redis was away.
    assert [r for r in runs if down + timedelta(seconds=1.5) < r["queued_at"] <= up] == []
    after = fired_after(system, task["id"], up)
    assert 2 <= len(after) <= 6, after
    # The fires of the outage were not made up in a burst: one run stands for them.
    assert all(r["scheduled_for"] > after[0]["queued_at"] for r in after[1:])
    log = scheduler.output()
    assert log.count("Redis unavailable") == 1 and "Redis reachable again" in log


@pytest.mark.sqlite_only
def test_locked_database(system, unique_name):
    assert system.stack.env["DATABASE_URL"].startswith("sqlite"), "locks the SQLite file"
    scheduler = system.start_scheduler()
    system.wait_for_leader()
    task = system.create_task(unique_name, schedule={"type": "interval", "seconds": 1})
    system.wait_runs(task["id"], 2, 10)
    path = system.stack.env["DATABASE_URL"].removeprefix("sqlite:///")
    released = threading.Event()

    def hold_lock():
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        released.wait(30)  # a safety net: released once a tick has failed on the lock
        conn.execute("ROLLBACK")
        conn.close()

    locker = threading.Thread(target=hold_lock)
    locker.start()
    try:
        # Held past SQLite's 5 s busy timeout, until a tick has failed on it: the log says so.
        wait_until(lambda: "database is locked" in scheduler.output(), 25, interval=0.1,
                   what="a tick to fail on the locked database")
    finally:
        released.set()
        locker.join()
    unlocked = datetime.now(UTC)
    wait_fires_again(system, task["id"], unlocked)
    assert scheduler.alive()
    after = fired_after(system, task["id"], unlocked)
    assert 2 <= len(after) <= 6, after
    assert "database is locked" in scheduler.output()
