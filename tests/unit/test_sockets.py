"""The Socket.IO ``subscribe`` handler through Flask-SocketIO's test client: refusals,
the ack with head and replay, snapshot rows, and that only accepted rooms are joined."""
from __future__ import annotations

import pytest

from webapp.core.extensions import db, socketio
from webapp.core.models import Task
from webapp.runs.state import open_run, update_task_status


def subscribe(client, *args):
    return client.emit("subscribe", *args, callback=True)


@pytest.fixture
def history(app, make_task):
    """Two tasks with runs: returns their ids and the published payloads in seq order."""
    scan = make_task(name="scan")
    backup = make_task(name="backup")
    published = []
    with app.app_context():
        for task_id in (scan, backup):
            run, payload = open_run(db.session.get(Task, task_id), "manual")
            db.session.commit()
            published.append(payload)
            published.append(update_task_status(run.id, "running"))
        published.append(update_task_status(1, "success"))
    assert [p["seq"] for p in published] == [1, 2, 3, 4, 5]
    return {"scan": scan, "backup": backup, "events": published}


def without_emitted_at(events):
    return [{k: v for k, v in e.items() if k != "emitted_at"} for e in events]


def received_updates(client):
    return [m["args"][0] for m in client.get_received() if m["name"] == "task_update"]


@pytest.mark.parametrize("payload", ["tasks", ["tasks", None], None, 7, True],
                         ids=["string", "list", "null", "number", "bool"])
def test_payload_that_is_not_an_object_is_refused(socket_client, payload):
    ack = subscribe(socket_client, payload)
    assert ack["ok"] is False and isinstance(ack["error"], str) and ack["error"]


@pytest.mark.parametrize("room", ["admin", "task:abc", "task:", "task:-1", "task:1.5", " tasks", "TASKS",
                                  123, None, ["tasks"], "task:" + "9" * 13],
                         ids=["admin", "task-abc", "task-empty", "task-negative", "task-float",
                              "leading-space", "upper-case", "number", "null", "list", "task-huge-id"])
def test_unknown_room_is_refused_and_not_joined(socket_client, make_task, room):
    make_task()
    ack = subscribe(socket_client, {"room": room, "since": None})
    assert ack["ok"] is False and "room" in ack["error"]
    if isinstance(room, str):
        socketio.emit("task_update", {"seq": 1}, to=room)
        assert received_updates(socket_client) == []


def test_missing_room_is_refused(socket_client):
    ack = subscribe(socket_client, {"since": 0})
    assert ack["ok"] is False


@pytest.mark.parametrize("since", [-1, "3", True, False, 1.5, [1], {"seq": 1}],
                         ids=["negative", "string", "true", "false", "float", "list", "object"])
def test_bad_since_is_refused_and_not_joined(socket_client, since):
    ack = subscribe(socket_client, {"room": "tasks", "since": since})
    assert ack["ok"] is False and "since" in ack["error"]
    socketio.emit("task_update", {"seq": 1}, to="tasks")
    assert received_updates(socket_client) == []


def test_room_of_a_task_that_does_not_exist_is_refused(socket_client, make_task):
    task_id = make_task()
    ack = subscribe(socket_client, {"room": f"task:{task_id + 1}", "since": None})
    assert ack["ok"] is False and str(task_id + 1) in ack["error"]
    socketio.emit("task_update", {"seq": 1}, to=f"task:{task_id + 1}")
    assert received_updates(socket_client) == []


@pytest.mark.parametrize("args", [(), ({"room": "tasks", "since": None}, "extra")], ids=["no-payload", "two-args"])
def test_subscribe_with_no_or_extra_arguments_is_refused(socket_client, args):
    ack = subscribe(socket_client, *args)
    assert ack is not None and ack["ok"] is False


def test_empty_log_head_is_zero(socket_client):
    assert subscribe(socket_client, {"room": "tasks", "since": None}) == {"ok": True, "head": 0, "events": []}


def test_since_null_gives_head_and_no_events(socket_client, history):
    ack = subscribe(socket_client, {"room": "tasks", "since": None})
    assert ack == {"ok": True, "head": 5, "events": []}


def test_since_k_replays_the_events_after_k_oldest_first(socket_client, history):
    ack = subscribe(socket_client, {"room": "tasks", "since": 2})
    assert ack["ok"] is True and ack["head"] == 5
    assert [e["seq"] for e in ack["events"]] == [3, 4, 5]
    assert without_emitted_at(ack["events"]) == without_emitted_at(history["events"][2:])
    assert all(e["emitted_at"] and e["emitted_at"].endswith("Z") for e in ack["events"])
    assert "truncated" not in ack


def test_since_zero_replays_everything_and_since_head_nothing(socket_client, history):
    assert [e["seq"] for e in subscribe(socket_client, {"room": "tasks", "since": 0})["events"]] == [1, 2, 3, 4, 5]
    assert subscribe(socket_client, {"room": "tasks", "since": 5})["events"] == []
    assert subscribe(socket_client, {"room": "tasks", "since": 50}) == {"ok": True, "head": 5, "events": []}


def test_task_room_replays_only_that_task(socket_client, history):
    ack = subscribe(socket_client, {"room": f"task:{history['backup']}", "since": 0})
    assert ack["ok"] is True and ack["head"] == 5
    assert [e["seq"] for e in ack["events"]] == [3, 4]
    assert {e["task_name"] for e in ack["events"]} == {"backup"}
    ack = subscribe(socket_client, {"room": f"task:{history['scan']}", "since": 1})
    assert [(e["seq"], e["status"]) for e in ack["events"]] == [(2, "running"), (5, "success")]


def test_replay_beyond_the_limit_is_marked_truncated(app, socket_client, history):
    app.config["REPLAY_LIMIT"] = 2
    ack = subscribe(socket_client, {"room": "tasks", "since": 0})
    assert [e["seq"] for e in ack["events"]] == [1, 2] and ack["truncated"] is True
    ack = subscribe(socket_client, {"room": "tasks", "since": 2})
    assert [e["seq"] for e in ack["events"]] == [3, 4] and ack["truncated"] is True
    ack = subscribe(socket_client, {"room": "tasks", "since": 4})
    assert [e["seq"] for e in ack["events"]] == [5] and "truncated" not in ack


def test_snapshot_returns_task_rows_with_last_run(socket_client, history):
    ack = subscribe(socket_client, {"room": "tasks", "since": None, "snapshot": True})
    assert ack["ok"] is True and ack["head"] == 5
    rows = {row["name"]: row for row in ack["tasks"]}
    assert set(rows) == {"scan", "backup"}
    assert rows["scan"]["last_run"]["status"] == "success" and rows["scan"]["last_status"] == "success"
    assert rows["backup"]["last_run"]["status"] == "running"
    assert rows["backup"]["last_run"]["job_id"] == f"run-{rows['backup']['last_run']['id']}"
    assert rows["backup"]["id"] == history["backup"]


def test_snapshot_of_a_task_room_has_only_that_task(socket_client, history, make_task):
    idle = make_task(name="idle")
    ack = subscribe(socket_client, {"room": f"task:{idle}", "since": None, "snapshot": True})
    assert [(row["name"], row["last_run"]) for row in ack["tasks"]] == [("idle", None)]
    ack = subscribe(socket_client, {"room": f"task:{history['scan']}", "since": None, "snapshot": True})
    assert [row["name"] for row in ack["tasks"]] == ["scan"]


def test_no_snapshot_unless_asked(socket_client, history):
    assert "tasks" not in subscribe(socket_client, {"room": "tasks", "since": None})
    assert "tasks" not in subscribe(socket_client, {"room": "tasks", "since": None, "snapshot": "yes"})


def test_accepted_subscribe_joins_the_room(socket_client, history):
    room = f"task:{history['scan']}"
    assert subscribe(socket_client, {"room": room, "since": None})["ok"] is True
    socketio.emit("task_update", {"seq": 6}, to=room)
    socketio.emit("task_update", {"seq": 7}, to="tasks")  # not joined
    assert received_updates(socket_client) == [{"seq": 6}]
    assert subscribe(socket_client, {"room": "tasks", "since": 5})["ok"] is True
    socketio.emit("task_update", {"seq": 8}, to="tasks")
    assert received_updates(socket_client) == [{"seq": 8}]


def test_task_room_replay_does_not_include_a_deleted_task_with_the_same_id(app, socket_client, client, history):
    assert client.delete(f"/api/tasks/{history['backup']}").status_code == 204
    new = client.post("/api/tasks", json={"name": "fresh", "kind": "shell", "config": {"command": "true"}})
    assert new.status_code == 201
    ack = subscribe(socket_client, {"room": f"task:{new.get_json()['id']}", "since": 0})
    assert ack["ok"] is True
    assert [e["task_name"] for e in ack["events"]] == []
