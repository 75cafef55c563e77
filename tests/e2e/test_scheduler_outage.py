"""The scheduler rides out a Redis restart and a locked database: the process stays up,
says so once in its log, and fires again (one run for the fires missed meanwhile).

This module has its own redis-server, so stopping it disturbs no other test."""
from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.scheduler_support import SchedulerSystem
from tests.support.processes import RedisServer

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


def test_redis_restart(system, own_redis, unique_name):
    scheduler = system.start_scheduler()
    system.wait_for_leader()
    task = system.create_task(unique_name, schedule={"type": "interval", "seconds": 1})
    system.wait_runs(task["id"], 2, 10)
    own_redis.stop()
    down = datetime.now(UTC)
    time.sleep(4)
    assert scheduler.alive()
    assert fired_after(system, task["id"], down + timedelta(seconds=1.5)) == []
    own_redis.start()  # same port, empty (no persistence): the lock is gone too
    up = datetime.now(UTC)
    time.sleep(4)
    assert scheduler.alive()
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
        released.wait(8)  # longer than SQLite's 5 s busy timeout: ticks fail
        conn.execute("ROLLBACK")
        conn.close()

    locker = threading.Thread(target=hold_lock)
    locker.start()
    time.sleep(8.5)
    released.set()
    locker.join()
    unlocked = datetime.now(UTC)
    time.sleep(4)
    assert scheduler.alive()
    after = fired_after(system, task["id"], unlocked)
    assert 2 <= len(after) <= 6, after
    assert "database is locked" in scheduler.output()
