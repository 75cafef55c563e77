"""Alerts with real parts: the web process, a run worker and an alerts worker (as the
Procfile starts them), a real HTTP receiver reached through Apprise's ``json://`` and a
real SMTP server (aiosmtpd) through ``mailto://``, both on loopback."""
from __future__ import annotations

import time
from datetime import datetime
from email import message_from_bytes

import pytest
import socketio
from aiosmtpd.controller import Controller

from tests.conftest import basic_auth, start_or_report
from tests.support.processes import ADMIN, Stack, free_port, wait_until

RETRY_DELAYS = "1,1"  # two retries, a second apart: three attempts in all
CAP, WINDOW = 4, 5  # a small cap and window, so the summary comes within the test


class Mailbox:
    """aiosmtpd's handler: keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 OK"


@pytest.fixture(scope="module")
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture(scope="module")
def alerts_stack(tmp_path_factory, redis_server, database_url):
    """The live system with an alerts worker serving ``taskpulse-alerts``."""
    redis_server.client().flushdb()
    stack = Stack(redis_server, tmp_path_factory.mktemp("alerts"), database_url=database_url,
                  extra_env={"TASKPULSE_ALERT_RETRY_DELAYS": RETRY_DELAYS, "TASKPULSE_ALERT_CAP": str(CAP),
                             "TASKPULSE_ALERT_WINDOW": str(WINDOW),
                             "TASKPULSE_BASE_URL": "https://taskpulse.example.com"})
    start_or_report(stack)
    stack.start_worker(queues=("taskpulse-alerts",))
    yield stack
    stack.stop()


def add_channel(stack: Stack, name: str, url: str) -> dict:
    made = stack.api("POST", "/channels", json={"name": name, "url": url})
    assert made.status_code == 201, made.text
    return made.json()


def run_to_end(stack: Stack, task_id: int) -> dict:
    run_id = stack.api("POST", f"/tasks/{task_id}/run").json()["run_id"]
    return wait_until(lambda: (r := stack.api("GET", f"/runs/{run_id}").json())["status"]
                      in ("success", "failed") and r, 30, what=f"run {run_id} to end")


def outbox(stack: Stack, **match) -> list[dict]:
    rows = stack.api("GET", "/notifications?since=0&limit=1000").json()["notifications"]
    return [r for r in rows if all(r[k] == v for k, v in match.items())]


def stamp(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_failure_after_two_once_per_incident_then_recovery_by_webhook_and_mail(
        alerts_stack, receiver, mailbox, tmp_path):
    box, smtp_port = mailbox
    hook = add_channel(alerts_stack, "ops-hook", f"json://127.0.0.1:{receiver.port}/hook")
    assert hook["url"] == "json://127.0.0.1/***"
    add_channel(alerts_stack, "ops-mail",
                f"mailto://127.0.0.1:{smtp_port}?to=ops@example.com&from=taskpulse@example.com")
    flag = tmp_path / "healthy"
    task = alerts_stack.create_task(
        "nightly-scan", f"test -f {flag}",
        notify={"channels": ["ops-hook", "ops-mail"], "on": ["failure", "recovery"], "after_failures": 2})
    live = socketio.Client()
    seen: list[dict] = []
    updates: list[dict] = []
    live.on("notification", seen.append)
    live.on("task_update", updates.append)
    live.connect(alerts_stack.base_url, headers={"Authorization": basic_auth(*ADMIN)}, wait_timeout=10)
    try:
        assert live.call("subscribe", {"room": "notifications", "since": None}, timeout=10)["ok"]
        assert live.call("subscribe", {"room": f"task:{task['id']}", "since": None}, timeout=10)["ok"]
        first = run_to_end(alerts_stack, task["id"])
        assert outbox(alerts_stack, task_id=task["id"]) == []  # one failure is not an incident yet
        second = run_to_end(alerts_stack, task["id"])
        got = wait_until(lambda: receiver.on("/hook"), 10, what="the failure alert at the receiver")
        # The failure's moment: its task_update, stamped (in ms) as it was published after
        # the commit; the receiver stamps its own arrival. Both clocks are this machine's.
        failed = wait_until(lambda: [u for u in updates if u["run_id"] == second["id"]
                                     and u["status"] == "failed"], 5, what="the failure live")[0]
        print(f"\nfailure -> receiver: {got[0][0] - stamp(failed['emitted_at']):.3f} s "
              f"(run {second['id']} failed at {failed['emitted_at']})")
        run_to_end(alerts_stack, task["id"])  # a third failure: the same incident, no new alert
        flag.touch()
        recovered = run_to_end(alerts_stack, task["id"])
        assert recovered["status"] == "success"
        wait_until(lambda: len(receiver.on("/hook")) == 2, 10, what="the recovery alert at the receiver")
        wait_until(lambda: len(box.messages) == 2, 15, what="both alerts by mail")
        wait_until(lambda: all(r["status"] == "sent" for r in outbox(alerts_stack, task_id=task["id"])), 10,
                   what="every row sent")
        wait_until(lambda: sum(1 for e in seen if e["status"] == "sent") == 4, 10,
                   what="the sends live in room notifications")
    finally:
        live.disconnect()
    titles = [body["title"] for _, body in receiver.on("/hook")]
    assert titles == ["Taskpulse: nightly-scan failed (2 in a row)", "Taskpulse: nightly-scan recovered"]
    failure = receiver.on("/hook")[0][1]["message"]
    assert f"Run: {second['id']}" in failure and "Status: failed" in failure
    assert f"https://taskpulse.example.com/runs/{second['id']}" in failure
    assert sorted(m["Subject"] for m in box.messages) == sorted(titles)
    rows = outbox(alerts_stack, task_id=task["id"])
    assert sorted((r["kind"], r["run_id"]) for r in rows) == sorted(
        [("failure", second["id"])] * 2 + [("recovery", recovered["id"])] * 2)
    assert first["id"] not in {r["run_id"] for r in rows}


def test_a_refusing_receiver_is_retried_then_failed_with_the_reason(alerts_stack, receiver):
    channel = add_channel(alerts_stack, "refuser", f"json://127.0.0.1:{receiver.port}/refuse")
    row = alerts_stack.api("POST", f"/channels/{channel['id']}/test").json()
    assert row["status"] == "pending"
    done = wait_until(lambda: outbox(alerts_stack, id=row["id"], status="failed"), 20,
                      what="the refused delivery to be marked failed")[0]
    assert done["attempts"] == 3 and len(receiver.on("/refuse")) == 3
    assert "500" in done["error"], done["error"]
    # Nothing else was held up: a good channel still delivers at once.
    good = add_channel(alerts_stack, "after-refuser", f"json://127.0.0.1:{receiver.port}/after")
    alerts_stack.api("POST", f"/channels/{good['id']}/test")
    wait_until(lambda: receiver.on("/after"), 10, what="a delivery on another channel")


def test_the_per_channel_cap_folds_a_burst_into_one_summary(alerts_stack, receiver):
    channel = add_channel(alerts_stack, "burst", f"json://127.0.0.1:{receiver.port}/burst")
    for _ in range(CAP + 3):
        assert alerts_stack.api("POST", f"/channels/{channel['id']}/test").status_code == 202
    got = wait_until(lambda: len(receiver.on("/burst")) >= CAP + 1 and receiver.on("/burst"), WINDOW + 15,
                     what="the capped messages and one summary")
    titles = sorted(body["title"] for _, body in got)
    # Order is not asserted: on a loaded machine the summary may overtake the last single.
    assert titles == sorted(["Taskpulse: test message to burst"] * CAP
                            + ["Taskpulse: 3 more alerts on channel burst"]), titles

    def settled():
        # The receiver has the summary a moment before the worker records it as sent.
        rows = outbox(alerts_stack, channel="burst")
        summary = [r for r in rows if r["kind"] == "summary"]
        done = len(summary) == 1 and summary[0]["status"] == "sent" and \
            all(r["status"] == "sent" for r in rows if r["folded_into"] == summary[0]["id"])
        return (rows, summary) if done else None

    rows, summary = wait_until(settled, 10, what="the summary and the rows it folded recorded as sent")
    folded = [r for r in rows if r["folded_into"] == summary[0]["id"]]
    assert len(folded) == 3


def test_an_alert_is_delivered_while_every_run_worker_is_busy_with_a_long_job(alerts_stack, receiver):
    long_job = alerts_stack.create_task("long-backup", "sleep 15", timeout=60)
    run_id = alerts_stack.api("POST", f"/tasks/{long_job['id']}/run").json()["run_id"]
    wait_until(lambda: alerts_stack.api("GET", f"/runs/{run_id}").json()["status"] == "running", 20,
               what="the long job to occupy the only run worker")
    channel = add_channel(alerts_stack, "while-busy", f"json://127.0.0.1:{receiver.port}/busy")
    sent_at = time.time()
    assert alerts_stack.api("POST", f"/channels/{channel['id']}/test").status_code == 202
    got = wait_until(lambda: receiver.on("/busy"), 10, what="the delivery while the run worker is busy")
    assert alerts_stack.api("GET", f"/runs/{run_id}").json()["status"] == "running"
    print(f"\nalert delivered {got[0][0] - sent_at:.3f} s after it was written, the run worker busy")
    alerts_stack.api("POST", f"/runs/{run_id}/stop")
