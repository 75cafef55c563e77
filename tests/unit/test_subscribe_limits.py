"""Bounds on what a stranger can make the server do cheaply: cron expressions at most
200 characters, a ``subscribe`` ack at most 256 KiB (the rest follows after
``truncated``), at most 20 subscribes per connection per 10 s, the audit replay bounded
and flagged."""
from __future__ import annotations

import json
import time

import pytest

from webapp.live import subscribe_limits
from webapp.live.subscribe_limits import ACK_MAX_BYTES


def ack_bytes(ack: dict) -> int:
    return len(json.dumps(ack, separators=(",", ":"), ensure_ascii=False).encode())


@pytest.mark.parametrize("expr", ["0 2 * * *" + " " * 200, ",".join(["1"] * 2000) + " * * * *"])
def test_a_long_cron_expression_is_refused_at_once_in_preview_and_when_saved(client, expr):
    started = time.monotonic()
    preview = client.get("/api/schedule/preview", query_string={"cron": expr})
    saved = client.post("/api/tasks", json={"name": "long-cron", "kind": "shell", "config": {"command": "true"},
                                             "schedule": {"type": "cron", "expr": expr}})
    assert time.monotonic() - started < 1.0
    assert preview.status_code == 400 and preview.get_json()["error"]["field"] == "cron"
    assert "at most 200" in preview.get_json()["error"]["message"]
    assert saved.status_code == 400 and saved.get_json()["error"]["field"] == "schedule.expr"
    assert client.get("/api/tasks").get_json()["tasks"] == []


def test_a_200_character_cron_expression_is_still_accepted(client):
    expr = "0 2 * * " + ",".join(["1", "2", "3", "4", "5"] * 40)[:192]
    expr = expr.rstrip(",")
    assert len(expr) <= 200
    response = client.get("/api/schedule/preview", query_string={"cron": expr})
    assert response.status_code == 200, response.get_json()


def test_the_21st_subscribe_in_10_s_is_refused_with_a_reason_and_the_connection_lives(socket_client):
    acks = [socket_client.emit("subscribe", {"room": "tasks", "since": None}, callback=True) for _ in range(21)]
    assert all(ack["ok"] for ack in acks[:20])
    assert acks[20]["ok"] is False and acks[20]["error"].startswith("rate limited")
    assert socket_client.is_connected()


def test_the_rate_limit_window_slides():
    session: dict = {}
    for i in range(20):
        assert subscribe_limits.rate_limited(session, now=100.0 + i * 0.1) is None
    assert "try again in" in subscribe_limits.rate_limited(session, now=102.5)
    assert subscribe_limits.rate_limited(session, now=110.05) is None  # the first has aged out
    assert subscribe_limits.rate_limited(session, now=110.06) is not None


def test_a_run_with_long_lines_gives_an_ack_under_256_kib_with_its_newest_lines(app, socket_client, make_task,
                                                                                clean_redis):
    from webapp.core.extensions import db
    from webapp.core.models import TaskRun
    from webapp.runs import output

    task_id = make_task()
    with app.app_context():
        run = TaskRun(task_id=task_id, status="running", trigger="manual")
        db.session.add(run)
        db.session.commit()
        run_id = run.id
        lines = [{"n": n, "stream": "stdout", "text": f"{n:06d}" + "x" * 8000} for n in range(1, 1001)]
        output.append(run_id, task_id, lines)
    ack = socket_client.emit("subscribe", {"room": f"run:{run_id}", "after": None}, callback=True)
    assert ack["ok"] is True
    assert ack_bytes(ack) <= ACK_MAX_BYTES
    got = ack["output"]["lines"]
    assert got[-1]["n"] == 1000 and ack["output"]["truncated"] is True
    assert [line["n"] for line in got] == list(range(got[0]["n"], 1001))  # newest, in order
    assert len(got) > 20  # as many as fit


def test_a_replay_of_large_events_is_cut_in_order_and_flagged(app, socket_client, make_task):
    from webapp.core.extensions import db
    from webapp.core.models import Event

    task_id = make_task()
    with app.app_context():
        for _ in range(60):
            db.session.add(Event(name="task_update", task_id=task_id, payload={}))
        db.session.flush()
        for row in db.session.execute(db.select(Event)).scalars():
            row.payload = {"seq": row.id, "task_id": task_id, "run_id": 1, "status": "failed",
                           "error": "e" * 20000}
        db.session.commit()
    ack = socket_client.emit("subscribe", {"room": "tasks", "since": 0}, callback=True)
    assert ack["ok"] is True and ack["truncated"] is True
    assert ack_bytes(ack) <= ACK_MAX_BYTES
    seqs = [event["seq"] for event in ack["events"]]
    assert seqs == list(range(1, len(seqs) + 1)) and 5 < len(seqs) < 60  # the oldest, no gap
    again = socket_client.emit("subscribe", {"room": "tasks", "since": seqs[-1]}, callback=True)
    assert again["events"][0]["seq"] == seqs[-1] + 1


def test_the_audit_replay_is_bounded_by_the_replay_limit_and_flagged(app, socket_client):
    from webapp.core.extensions import db
    from webapp.core.models import AuditEntry

    app.config["REPLAY_LIMIT"] = 5
    head = socket_client.emit("subscribe", {"room": "audit", "since": None}, callback=True)["head"]
    with app.app_context():
        for n in range(8):
            db.session.add(AuditEntry(username="admin", action="update", target_type="task",
                                      target_name=f"t{n}", changes={}))
        db.session.commit()
    ack = socket_client.emit("subscribe", {"room": "audit", "since": head}, callback=True)
    assert ack["ok"] is True and ack["truncated"] is True
    assert [e["target_name"] for e in ack["events"]] == ["t0", "t1", "t2", "t3", "t4"]
    rest = socket_client.emit("subscribe", {"room": "audit", "since": ack["events"][-1]["id"]}, callback=True)
    assert [e["target_name"] for e in rest["events"]] == ["t5", "t6", "t7"] and "truncated" not in rest
