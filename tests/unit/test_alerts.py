"""Alerts in one process: channels (Apprise URLs, masked), a task's notify rules, and
the outbox rows a run's end writes (failure after N, once per incident, recovery)."""
from __future__ import annotations

import pytest

from webapp.alerts import channels
from webapp.core.errors import ValidationError
from webapp.core.extensions import db
from webapp.core.models import Notification
from webapp.runs.dispatch import dispatch
from webapp.runs.state import update_task_status
from webapp.tasks import store

SECRET_URL = "json://hookuser:s3cret-pass@alerts.example.com:8443/hooks/T0KEN-abc?x=1"


def field_of(call) -> str | None:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.field


def test_a_channel_url_apprise_cannot_parse_is_refused_naming_url(app):
    with app.app_context():
        assert field_of(lambda: channels.create_channel({"name": "x", "url": "bogus://nothing"})) == "url"
        assert field_of(lambda: channels.create_channel({"name": "x", "url": "not a url"})) == "url"
        assert field_of(lambda: channels.create_channel({"name": "x", "url": 5})) == "url"
        assert field_of(lambda: channels.create_channel({"name": "", "url": SECRET_URL})) == "name"


def test_a_saved_channel_shows_only_scheme_and_host(app):
    with app.app_context():
        shown = channels.create_channel({"name": "ops", "url": SECRET_URL}).to_dict()
        assert shown["url"] == "json://alerts.example.com/***"
        token_host = channels.create_channel({"name": "tg", "url": "tgram://123456789:AAbbCCdd/12345"})
        assert token_host.to_dict()["url"] == "tgram://***/***"  # the "host" is the bot token


def test_notify_is_checked_naming_the_field(app):
    with app.app_context():
        channels.create_channel({"name": "ops", "url": SECRET_URL})
        base = {"name": "t", "kind": "shell", "config": {"command": "true"}}
        cases = {
            "notify.channels": {"channels": ["nope"]},
            "notify.after_failures": {"channels": ["ops"], "after_failures": 0},
            "notify.late_after": {"channels": ["ops"], "late_after": -1},
            "notify.on": {"channels": ["ops"], "on": ["sometimes"]},
            "notify": "yes",
        }
        for field, notify in cases.items():
            assert field_of(lambda: store.create_task(dict(base, notify=notify))) == field
        task = store.create_task(dict(base, notify={"channels": ["ops"], "after_failures": 2}))
        assert task.to_dict()["notify"] == {"channels": ["ops"], "on": ["failure", "recovery"],
                                            "after_failures": 2, "late_after": 60, "max_runtime": None}


def _run_and_end(task_id: int, status: str) -> int:
    run_id = dispatch(task_id)["run_id"]
    update_task_status(run_id, "running")
    update_task_status(run_id, status, error="exit code 3" if status == "failed" else None)
    return run_id


def test_failure_after_two_once_per_incident_then_recovery(app):
    with app.app_context():
        channels.create_channel({"name": "ops", "url": SECRET_URL})
        task = store.create_task({"name": "nightly", "kind": "shell", "config": {"command": "false"},
                                  "notify": {"channels": ["ops"], "after_failures": 2}})
        first = _run_and_end(task.id, "failed")
        second = _run_and_end(task.id, "failed")
        _run_and_end(task.id, "failed")
        ok = _run_and_end(task.id, "success")
        _run_and_end(task.id, "success")
        rows = [(n.kind, n.run_id, n.status) for n in db.session.query(Notification).order_by(Notification.id)]
        assert rows == [("failure", second, "pending"), ("recovery", ok, "pending")]
        failure = db.session.query(Notification).filter_by(kind="failure").one()
        assert failure.title == "Taskpulse: nightly failed (2 in a row)"
        assert f"Run: {second}" in failure.body and "Error: exit code 3" in failure.body
        assert f"/runs/{second}" in failure.body
        assert first != second


def test_a_success_without_an_alerted_incident_sends_no_recovery(app):
    with app.app_context():
        channels.create_channel({"name": "ops", "url": SECRET_URL})
        task = store.create_task({"name": "flaky", "kind": "shell", "config": {"command": "false"},
                                  "notify": {"channels": ["ops"], "after_failures": 3}})
        _run_and_end(task.id, "failed")
        _run_and_end(task.id, "success")
        assert db.session.query(Notification).count() == 0


def test_scrubbed_errors_keep_no_part_of_the_url_secret():
    text = f"Failed to send to {SECRET_URL}: hookuser s3cret-pass T0KEN-abc refused"
    scrubbed = channels.scrub(text, SECRET_URL)
    for secret in ("hookuser", "s3cret-pass", "T0KEN-abc"):
        assert secret not in scrubbed
