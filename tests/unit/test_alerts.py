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


def test_channels_api_masks_urls_for_everyone_and_only_admins_edit(app, client):
    from tests.conftest import basic_auth
    from webapp.access import users

    with app.app_context():
        users.create_user("vera", "viewer", "viewer-password-123")
        users.create_user("otto", "operator", "operator-password-123")
    made = client.post("/api/channels", json={"name": "ops", "url": SECRET_URL})
    assert made.status_code == 201, made.get_json()
    assert client.post("/api/channels", json={"name": "bad", "url": "nope://"}).get_json()["error"]["field"] == "url"
    viewer = {"Authorization": basic_auth("vera", "viewer-password-123")}
    operator = {"Authorization": basic_auth("otto", "operator-password-123")}
    listed = client.get("/api/channels", headers=viewer)
    assert listed.get_json()["channels"] == [{"id": made.get_json()["id"], "name": "ops",
                                              "url": "json://alerts.example.com/***", "enabled": True}]
    assert client.post("/api/channels", headers=operator, json={"name": "x", "url": SECRET_URL}).status_code == 403
    cid = made.get_json()["id"]
    assert client.patch(f"/api/channels/{cid}", headers=viewer, json={"enabled": False}).status_code == 403
    tested = client.post(f"/api/channels/{cid}/test")
    assert tested.status_code == 202 and tested.get_json()["kind"] == "test"
    outbox = client.get("/api/notifications?since=0", headers=operator).get_json()
    assert [n["kind"] for n in outbox["notifications"]] == ["test"]
    assert client.get("/api/notifications", headers=viewer).status_code == 403
    audit = client.get("/api/audit")
    assert audit.status_code == 200 and "json://alerts.example.com/***" in audit.get_data(as_text=True)
    everything = str(listed.get_json()) + str(outbox) + audit.get_data(as_text=True)
    for secret in ("hookuser", "s3cret-pass", "T0KEN-abc"):
        assert secret not in everything
    assert client.delete(f"/api/channels/{cid}").status_code == 204
