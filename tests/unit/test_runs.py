"""The run state machine: webapp.runs.state.open_run and update_task_status, in an app context,
against SQLite and the private Redis (publishing through the Socket.IO message queue)."""
from __future__ import annotations

import json
import re
import sqlite3
import time
from datetime import datetime, timedelta

import pytest

from webapp.core.extensions import db
from webapp.core.models import Event, Task, TaskRun
from webapp.live import events
from webapp.runs.state import UnknownRun, open_run, update_task_status

CONTRACT_FIELDS = {
    "seq", "task_id", "task_name", "run_id", "job_id", "status", "trigger", "progress",
    "queued_at", "started_at", "finished_at", "duration_ms", "error", "last_run_at",
    "next_run_at", "last_status", "emitted_at",
    # Added by run control (issue 4): progress text and retry attempts.
    "progress_message", "attempt", "max_attempts", "next_attempt_at",
    # Added by chains and concurrency groups (issue 17).
    "parent_run_id", "waiting",
}
ISO_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
ISO_MILLIS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def queue_run(app, task_id: int, trigger: str = "manual") -> tuple[int, dict]:
    """A committed queued run (as dispatch makes it), without publishing."""
    with app.app_context():
        run, payload = open_run(db.session.get(Task, task_id), trigger)
        db.session.commit()
        return run.id, payload


def event_rows(app) -> list[Event]:
    with app.app_context():
        rows = list(db.session.execute(db.select(Event).order_by(Event.id)).scalars())
        db.session.expunge_all()
        return rows


def state(app, run_id: int) -> tuple[dict, dict]:
    """The stored run and its task, read fresh as the API shows them."""
    with app.app_context():
        run = db.session.get(TaskRun, run_id)
        return run.to_dict(with_output=True), run.task.to_dict()


def test_open_run_writes_a_queued_run_and_its_event(app, make_task):
    task_id = make_task(name="scan")
    run_id, payload = queue_run(app, task_id, "schedule")
    run, task = state(app, run_id)
    assert run["status"] == "queued" and run["job_id"] == f"run-{run_id}" and run["trigger"] == "schedule"
    assert task["last_status"] == "queued" and task["last_run_at"] == run["queued_at"]
    rows = event_rows(app)
    assert len(rows) == 1 and rows[0].id == payload["seq"] and rows[0].payload == payload
    assert set(payload) == CONTRACT_FIELDS
    assert payload["status"] == "queued" and payload["task_name"] == "scan"
    assert payload["emitted_at"] is None  # stamped when published, not stored


def test_queued_running_success(app, make_task):
    task_id = make_task(name="scan")
    run_id, _ = queue_run(app, task_id)

    with app.app_context():
        running = update_task_status(run_id, "running", progress=10)
    run, task = state(app, run_id)
    assert running["status"] == "running" and run["status"] == "running"
    assert run["started_at"] is not None and run["finished_at"] is None and run["duration_ms"] is None
    assert run["progress"] == 10
    assert task["last_status"] == "running" and task["last_run_at"] == run["started_at"]

    time.sleep(0.02)
    with app.app_context():
        done = update_task_status(run_id, "success", output="all good\n", exit_code=0)
    run, task = state(app, run_id)
    assert done["status"] == "success" and run["status"] == "success"
    assert run["finished_at"] is not None
    assert parse(run["finished_at"]) >= parse(run["started_at"]) >= parse(run["queued_at"])
    assert isinstance(run["duration_ms"], int) and run["duration_ms"] >= 20
    assert (run["error"], run["exit_code"], run["output"], run["progress"]) == (None, 0, "all good\n", 100)
    assert task["last_status"] == "success" and task["last_error"] is None
    assert task["last_run_at"] == run["started_at"]
    assert done["duration_ms"] == run["duration_ms"] and done["finished_at"] == run["finished_at"]
    assert done["last_status"] == "success" and done["started_at"] == run["started_at"]


def test_failed_sets_the_task_error_and_success_clears_it(app, make_task):
    task_id = make_task(name="scan")
    run_id, _ = queue_run(app, task_id)
    with app.app_context():
        update_task_status(run_id, "running")
        failed = update_task_status(run_id, "failed", error="exit code 3: disk is on fire", exit_code=3)
    run, task = state(app, run_id)
    assert failed["status"] == "failed" and failed["error"] == "exit code 3: disk is on fire"
    assert run["status"] == "failed" and run["error"] == "exit code 3: disk is on fire" and run["exit_code"] == 3
    assert run["duration_ms"] is not None and run["finished_at"] is not None
    assert task["last_status"] == "failed" and task["last_error"] == "exit code 3: disk is on fire"

    next_id, _ = queue_run(app, task_id)
    with app.app_context():
        update_task_status(next_id, "running")
        update_task_status(next_id, "success")
    _, task = state(app, next_id)
    assert task["last_status"] == "success" and task["last_error"] is None


def test_failed_while_queued_has_no_duration(app, make_task):
    task_id = make_task()
    run_id, _ = queue_run(app, task_id)
    with app.app_context():
        payload = update_task_status(run_id, "failed", error="could not queue the job")
    run, task = state(app, run_id)
    assert run["status"] == "failed" and run["started_at"] is None and run["duration_ms"] is None
    assert payload["finished_at"] is not None and task["last_error"] == "could not queue the job"


@pytest.mark.parametrize("late", ["running", "queued", "failed", "success", "retrying"])
def test_a_late_report_after_success_is_ignored(app, make_task, late):
    task_id = make_task()
    run_id, _ = queue_run(app, task_id)
    with app.app_context():
        update_task_status(run_id, "running")
        update_task_status(run_id, "success")
    before_run, before_task = state(app, run_id)
    before_events = [(e.id, e.payload) for e in event_rows(app)]

    with app.app_context():
        assert update_task_status(run_id, late, error="late") is None
    assert state(app, run_id) == (before_run, before_task)
    assert [(e.id, e.payload) for e in event_rows(app)] == before_events


def test_running_twice_is_ignored(app, make_task):
    task_id = make_task()
    run_id, _ = queue_run(app, task_id)
    with app.app_context():
        first = update_task_status(run_id, "running")
        assert update_task_status(run_id, "running") is None
    run, _ = state(app, run_id)
    assert run["started_at"] == first["started_at"]
    assert len(event_rows(app)) == 2


def test_unknown_run_raises(app):
    with app.app_context(), pytest.raises(UnknownRun):
        update_task_status(999, "running")
    assert event_rows(app) == []


def test_each_transition_writes_one_contract_event(app, make_task):
    task_id = make_task(name="backup")
    run_id, queued = queue_run(app, task_id)
    published = [queued]
    with app.app_context():
        published.append(update_task_status(run_id, "running"))
        published.append(update_task_status(run_id, "failed", error="boom"))
    rows = event_rows(app)
    assert [row.id for row in rows] == [p["seq"] for p in published]
    assert [row.id for row in rows] == sorted(row.id for row in rows)
    assert len({row.id for row in rows}) == 3
    for row, sent in zip(rows, published):
        assert row.name == "task_update"
        assert row.task_id == task_id and row.run_id == run_id
        assert set(row.payload) == CONTRACT_FIELDS
        assert row.payload["seq"] == row.id
        assert {k: v for k, v in sent.items() if k != "emitted_at"} == {
            k: v for k, v in row.payload.items() if k != "emitted_at"}
    assert [p["status"] for p in published] == ["queued", "running", "failed"]

    final = published[-1]
    assert set(final) == CONTRACT_FIELDS
    assert final["task_id"] == task_id and final["task_name"] == "backup"
    assert final["run_id"] == run_id and final["job_id"] == f"run-{run_id}"
    assert final["trigger"] == "manual" and final["error"] == "boom" and final["last_status"] == "failed"
    for key in ("queued_at", "started_at", "finished_at", "last_run_at"):
        assert ISO_SECONDS.match(final[key]), (key, final[key])
    assert final["next_run_at"] is None
    for sent in published[1:]:
        assert ISO_MILLIS.match(sent["emitted_at"]), sent["emitted_at"]


def test_event_carries_the_task_next_run_at(app, make_task):
    from webapp.core.timeutil import utcnow

    task_id = make_task(schedule={"type": "interval", "seconds": 60},
                        next_run_at=utcnow() + timedelta(seconds=60))
    run_id, _ = queue_run(app, task_id, "schedule")
    with app.app_context():
        payload = update_task_status(run_id, "running")
    assert ISO_SECONDS.match(payload["next_run_at"])
    assert payload["next_run_at"] == state(app, run_id)[1]["next_run_at"]


def test_an_older_run_does_not_overwrite_the_task_fields(app, make_task):
    task_id = make_task()
    old_id, _ = queue_run(app, task_id)
    new_id, _ = queue_run(app, task_id)
    with app.app_context():
        update_task_status(new_id, "running")
        update_task_status(old_id, "running")
        payload = update_task_status(old_id, "failed", error="old run failed")
    _, task = state(app, new_id)
    assert task["last_status"] == "running" and task["last_error"] is None
    assert payload["status"] == "failed" and payload["last_status"] == "running"


def test_publishes_task_update_to_both_rooms_after_commit(app, make_task, redis_server, monkeypatch):
    task_id = make_task(name="scan")
    run_id, _ = queue_run(app, task_id)
    db_path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")

    # What another process would see in the database at the moment of publishing.
    seen_at_publish: list[tuple] = []
    real_emitter = events.emitter

    class Spy:
        def __init__(self, inner):
            self.inner = inner

        def emit(self, *args, **kwargs):
            with sqlite3.connect(db_path) as conn:
                seen_at_publish.append((
                    conn.execute("SELECT status FROM taskpulse_task_runs WHERE id = ?", (run_id,)).fetchone()[0],
                    conn.execute("SELECT max(id) FROM taskpulse_events").fetchone()[0],
                ))
            return self.inner.emit(*args, **kwargs)

    monkeypatch.setattr(events, "emitter", lambda: Spy(real_emitter()))

    pubsub = redis_server.client().pubsub()
    pubsub.subscribe(events.MESSAGE_QUEUE_CHANNEL)
    try:
        confirmed = pubsub.get_message(timeout=5)
        assert confirmed and confirmed["type"] == "subscribe"
        with app.app_context():
            payload = update_task_status(run_id, "running")
        message = pubsub.get_message(timeout=5)
        assert message is not None, "nothing published on the flask-socketio channel"
        assert message["type"] == "message"
    finally:
        pubsub.close()

    assert seen_at_publish == [("running", payload["seq"])]
    sent = json.loads(message["data"])
    assert sent["method"] == "emit" and sent["event"] == "task_update" and sent["namespace"] == "/"
    assert sent["room"] == ["tasks", f"task:{task_id}"]
    assert sent["data"] == [payload]
    assert sent["data"][0]["seq"] == payload["seq"] and sent["data"][0]["status"] == "running"


def test_unreachable_redis_still_commits_and_does_not_raise(app, make_task, closed_redis_url):
    app.config["REDIS_URL"] = closed_redis_url
    task_id = make_task()
    run_id, _ = queue_run(app, task_id)
    with app.app_context():
        payload = update_task_status(run_id, "running")
        assert payload is not None and payload["status"] == "running"
        assert events.emitter().redis_url == closed_redis_url  # it really used the dead Redis
    run, task = state(app, run_id)
    assert run["status"] == "running" and task["last_status"] == "running"
    rows = event_rows(app)
    assert [r.payload["status"] for r in rows] == ["queued", "running"]
    assert rows[-1].id == payload["seq"]
