"""The alerts watchdog with real parts: two web processes (both watching), a run worker,
an alerts worker and a scheduler process, with a real HTTP receiver reached through
Apprise's ``json://``. Overrun is noticed while the run keeps running; late is noticed
by the web processes while the scheduler is frozen (SIGSTOP); each alert arrives once
although two web processes watch; a row's badge comes live over Socket.IO."""
from __future__ import annotations

import signal
import time

import pytest
import socketio

from tests.conftest import basic_auth, start_or_report
from tests.e2e.test_alerts import add_channel, outbox, stamp
from tests.support.processes import ADMIN, VENV_BIN, Process, Stack, wait_until

WATCH = "5"  # the default: the watchdog also wakes at each deadline it knows of


@pytest.fixture(scope="module")
def watched(tmp_path_factory, redis_server, database_url):
    """Web + run worker + alerts worker, a second web process on the same database and
    Redis, and a scheduler."""
    redis_server.client().flushdb()
    env = {"TASKPULSE_ALERT_WATCH_SECONDS": WATCH, "TASKPULSE_ALERT_RETRY_DELAYS": "1"}
    workdir = tmp_path_factory.mktemp("watchdog")
    first = Stack(redis_server, workdir, database_url=database_url, extra_env=env)
    start_or_report(first)
    first.start_worker(queues=("taskpulse-alerts",))
    second = Stack(redis_server, workdir, database_url=first.env["DATABASE_URL"], extra_env=env)
    second.start_web()
    scheduler = Process(f"scheduler-{first.port}", [str(VENV_BIN / "python"), "-m", "worker.scheduler"],
                        first.service_env(), workdir).start()
    yield first, second, scheduler
    if scheduler.alive():
        scheduler.proc.send_signal(signal.SIGCONT)
    scheduler.stop()
    second.stop()
    first.stop()


def listen(stack: Stack) -> tuple[socketio.Client, list[dict]]:
    """A real Socket.IO client in room ``tasks`` that keeps every ``task_alerts``."""
    client = socketio.Client()
    notices: list[dict] = []
    client.on("task_alerts", notices.append)
    client.connect(stack.base_url, headers={"Authorization": basic_auth(*ADMIN)}, wait_timeout=10)
    assert client.call("subscribe", {"room": "tasks", "since": None}, timeout=10)["ok"]
    return client, notices


def badge(notices: list[dict], task_id: int) -> str | None:
    return notices[-1]["alerts"].get(str(task_id)) if notices else None


def test_an_overrunning_run_alerts_once_while_it_keeps_running(watched, receiver):
    first, second, _ = watched
    add_channel(first, "overrun-hook", f"json://127.0.0.1:{receiver.port}/overrun")
    task = first.create_task("backup", "sleep 6", timeout=60,
                             notify={"channels": ["overrun-hook"], "on": ["overrun"], "max_runtime": 2})
    client, notices = listen(second)
    try:
        run_id = first.api("POST", f"/tasks/{task['id']}/run").json()["run_id"]
        got = wait_until(lambda: receiver.on("/overrun"), 15, what="the overrun message")
        started = stamp(first.api("GET", f"/runs/{run_id}").json()["started_at"])
        print(f"overrun alert at the receiver {got[0][0] - started:.2f} s after the run started (max_runtime 2 s)")
        assert first.api("GET", f"/runs/{run_id}").json()["status"] == "running", "the run keeps running"
        body = got[0][1]
        assert body["title"] == "Taskpulse: backup is overrunning"
        assert f"Run: {run_id}" in body["message"] and "limit 2.0 s" in body["message"]
        wait_until(lambda: badge(notices, task["id"]) == "overrunning", 10, what="the overrunning badge, live")
        wait_until(lambda: first.api("GET", f"/runs/{run_id}").json()["status"] == "success", 20,
                   what="the run to end on its own")
        wait_until(lambda: badge(notices, task["id"]) is None, 10, what="the badge to go")
        # Two web processes watched the whole run: one message, one outbox row.
        assert len(receiver.on("/overrun")) == 1
        assert len(outbox(first, kind="overrun", run_id=run_id)) == 1
    finally:
        client.disconnect()


def test_a_frozen_scheduler_brings_one_late_alert_from_the_web_processes(watched, receiver):
    first, second, scheduler = watched
    add_channel(first, "late-hook", f"json://127.0.0.1:{receiver.port}/late")
    late_after = 2
    task = first.create_task("db-update", "true", schedule={"type": "interval", "seconds": 3},
                             notify={"channels": ["late-hook"], "on": ["late"], "late_after": late_after})
    wait_until(lambda: any(r["started_at"] for r in first.api("GET", f"/tasks/{task['id']}/runs").json()["runs"]),
               20, what="the scheduler to fire the task once")
    client, notices = listen(first)
    try:
        scheduler.proc.send_signal(signal.SIGSTOP)
        stopped_at = time.time()
        due = first.api("GET", f"/tasks/{task['id']}").json()["next_run_at"]
        got = wait_until(lambda: receiver.on("/late"), 3 + late_after + 10, what="the late message")
        waited = got[0][0] - stopped_at
        print(f"late alert at the receiver {got[0][0] - stamp(due):.2f} s after the fire was due "
              f"(late_after {late_after} s, the watchdog looks every {WATCH} s)")
        assert waited <= 3 + late_after + 3, f"late alert {waited:.1f} s after the scheduler froze"
        # Not up to a watch interval behind: the watchdog woke at the deadline.
        assert got[0][0] - stamp(due) <= late_after + 1.5, "late alert long after its deadline"
        body = got[0][1]
        assert body["title"] == "Taskpulse: db-update is late"
        assert f"Due: {due}" in body["message"]
        wait_until(lambda: badge(notices, task["id"]) == "late", 10, what="the late badge, live")
        # Still frozen, still late: once per gap, not once per look of either process.
        time.sleep(3)
        assert len(receiver.on("/late")) == 1
        assert len(outbox(first, kind="late", task_id=task["id"])) == 1
    finally:
        scheduler.proc.send_signal(signal.SIGCONT)
    try:
        wait_until(lambda: badge(notices, task["id"]) is None, 20, what="the badge to go once runs start again")
    finally:
        client.disconnect()
