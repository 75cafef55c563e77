"""webapp.scheduling.cron: validation and normalisation, next fire times, and the preview API."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from webapp.core.errors import ValidationError
from webapp.scheduling.cron import next_fire, preview, validate_schedule


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- validate_schedule --------------------------------------------------------------

@pytest.mark.parametrize("given,expected", [
    (None, None),
    ({"type": "cron", "expr": "0 2 * * *"}, {"type": "cron", "expr": "0 2 * * *"}),
    ({"type": "cron", "expr": "  */5 * * * 1-5 "}, {"type": "cron", "expr": "*/5 * * * 1-5"}),
    ({"type": "cron", "expr": "@daily"}, {"type": "cron", "expr": "@daily"}),
    ({"type": "cron", "expr": "0 2 * * *", "extra": 1}, {"type": "cron", "expr": "0 2 * * *"}),
    ({"type": "interval", "seconds": 30}, {"type": "interval", "seconds": 30}),
    ({"type": "interval", "seconds": 1}, {"type": "interval", "seconds": 1}),
    ({"type": "interval", "seconds": 366 * 86400}, {"type": "interval", "seconds": 366 * 86400}),
    ({"type": "once", "at": "2026-12-01T02:00:00Z"}, {"type": "once", "at": "2026-12-01T02:00:00Z"}),
    ({"type": "once", "at": "2026-12-01T03:00:00+01:00"}, {"type": "once", "at": "2026-12-01T02:00:00Z"}),
    ({"type": "once", "at": "2026-12-01T02:00:00"}, {"type": "once", "at": "2026-12-01T02:00:00Z"}),
    ({"type": "once", "at": "2026-12-01t02:00:00z"}, {"type": "once", "at": "2026-12-01T02:00:00Z"}),
    ({"type": "once", "at": " 2026-11-30T21:00:00-05:00 "}, {"type": "once", "at": "2026-12-01T02:00:00Z"}),
], ids=["null", "cron", "cron-trimmed", "cron-alias", "cron-extra-key-dropped", "interval", "interval-min",
        "interval-max", "once-z", "once-offset", "once-naive-is-utc", "once-lower-case", "once-negative-offset"])
def test_validate_schedule_normalises(given, expected):
    assert validate_schedule(given) == expected


@pytest.mark.parametrize("given,field", [
    ("0 2 * * *", "schedule"),
    ([], "schedule"),
    ({}, "schedule.type"),
    ({"type": "daily"}, "schedule.type"),
    ({"type": "cron", "expr": "0 2 * *"}, "schedule.expr"),
    ({"type": "cron", "expr": "0 25 * * *"}, "schedule.expr"),
    ({"type": "cron", "expr": "@fortnightly"}, "schedule.expr"),
    ({"type": "cron", "expr": 5}, "schedule.expr"),
    ({"type": "interval", "seconds": 0}, "schedule.seconds"),
    ({"type": "interval", "seconds": 366 * 86400 + 1}, "schedule.seconds"),
    ({"type": "interval", "seconds": 2.5}, "schedule.seconds"),
    ({"type": "interval"}, "schedule.seconds"),
    ({"type": "once", "at": "next tuesday"}, "schedule.at"),
    ({"type": "once", "at": None}, "schedule.at"),
])
def test_validate_schedule_refuses(given, field):
    with pytest.raises(ValidationError) as info:
        validate_schedule(given)
    assert info.value.field == field


# --- next_fire ------------------------------------------------------------------------

def test_no_schedule_never_fires():
    assert next_fire(None, "UTC", at("2026-01-01T00:00:00Z")) is None


def test_interval_fires_that_many_seconds_later():
    after = at("2026-01-01T00:00:10Z")
    assert next_fire({"type": "interval", "seconds": 30}, "UTC", after) == at("2026-01-01T00:00:40Z")


def test_naive_after_is_taken_as_utc():
    fire = next_fire({"type": "interval", "seconds": 60}, "UTC", datetime(2026, 1, 1, 0, 0))
    assert fire == at("2026-01-01T00:01:00Z") and fire.utcoffset() == timedelta(0)


def test_once_fires_only_if_still_ahead():
    schedule = {"type": "once", "at": "2026-12-01T02:00:00Z"}
    assert next_fire(schedule, "UTC", at("2026-11-30T00:00:00Z")) == at("2026-12-01T02:00:00Z")
    assert next_fire(schedule, "UTC", at("2026-12-01T02:00:00Z")) is None  # strictly after
    assert next_fire(schedule, "UTC", at("2026-12-02T00:00:00Z")) is None


def test_cron_in_utc_fires_strictly_after():
    schedule = {"type": "cron", "expr": "0 2 * * *"}
    assert next_fire(schedule, "UTC", at("2026-03-10T01:59:59Z")) == at("2026-03-10T02:00:00Z")
    assert next_fire(schedule, "UTC", at("2026-03-10T02:00:00Z")) == at("2026-03-11T02:00:00Z")


def test_cron_alias_is_expanded():
    assert next_fire({"type": "cron", "expr": "@hourly"}, "UTC", at("2026-03-10T01:15:00Z")) == at("2026-03-10T02:00:00Z")


def test_cron_in_london_follows_local_time_in_winter_and_summer():
    schedule = {"type": "cron", "expr": "30 2 * * *"}
    winter = next_fire(schedule, "Europe/London", at("2026-01-15T00:00:00Z"))
    summer = next_fire(schedule, "Europe/London", at("2026-07-15T00:00:00Z"))
    assert winter == at("2026-01-15T02:30:00Z")
    assert summer == at("2026-07-15T01:30:00Z")
    assert winter.utcoffset() == timedelta(0) and summer.utcoffset() == timedelta(0)


def test_cron_in_new_york():
    schedule = {"type": "cron", "expr": "0 9 * * 1-5"}
    # Friday 2026-01-16 14:00 UTC = 09:00 EST: the next weekday fire is Monday.
    assert next_fire(schedule, "America/New_York", at("2026-01-16T14:00:00Z")) == at("2026-01-19T14:00:00Z")


def test_preview_lists_consecutive_fires():
    fires = preview({"type": "interval", "seconds": 90}, "UTC", at("2026-01-01T00:00:00Z"), 3)
    assert [iso(f) for f in fires] == ["2026-01-01T00:01:30Z", "2026-01-01T00:03:00Z", "2026-01-01T00:04:30Z"]
    once = preview({"type": "once", "at": "2026-01-02T00:00:00Z"}, "UTC", at("2026-01-01T00:00:00Z"), 5)
    assert [iso(f) for f in once] == ["2026-01-02T00:00:00Z"]


def test_daily_cron_across_the_spring_gap_fires_once_a_day():
    # 01:30 does not exist in London on 2026-03-29 (clocks go 01:00 -> 02:00).
    fires = preview({"type": "cron", "expr": "30 1 * * *"}, "Europe/London", at("2026-03-27T12:00:00Z"), 4)
    assert [iso(f) for f in fires] == [
        "2026-03-28T01:30:00Z",  # 01:30 GMT
        "2026-03-29T01:00:00Z",  # no 01:30 that day: fires when the gap ends (02:00 BST)
        "2026-03-30T00:30:00Z",  # 01:30 BST
        "2026-03-31T00:30:00Z",
    ]


def test_cron_inside_the_new_york_spring_gap_fires_when_the_gap_ends():
    fire = next_fire({"type": "cron", "expr": "30 2 * * *"}, "America/New_York", at("2026-03-07T12:00:00Z"))
    assert fire == at("2026-03-08T07:00:00Z")  # 03:00 EDT


def test_hourly_cron_does_not_fire_again_in_the_repeated_hour():
    fires = preview({"type": "cron", "expr": "0 * * * *"}, "Europe/London", at("2026-10-24T23:00:00Z"), 3)
    # 01:00 BST (00:00Z) fires; 01:00 GMT (01:00Z) is the same wall time again and does not.
    assert [iso(f) for f in fires] == ["2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z", "2026-10-25T03:00:00Z"]


def test_daily_cron_across_the_autumn_overlap_fires_once_a_day():
    # A wall time that happens twice when clocks go back fires once, at its first occurrence.
    fires = preview({"type": "cron", "expr": "30 1 * * *"}, "Europe/London", at("2026-10-23T12:00:00Z"), 4)
    assert [iso(f) for f in fires] == [
        "2026-10-24T00:30:00Z",  # 01:30 BST
        "2026-10-25T00:30:00Z",  # the first 01:30 (BST); the repeated 01:30 GMT must not fire again
        "2026-10-26T01:30:00Z",  # 01:30 GMT
        "2026-10-27T01:30:00Z",
    ]


# --- GET /api/schedule/preview ------------------------------------------------------

def test_preview_endpoint_cron_with_count_timezone_and_after(client):
    response = client.get("/api/schedule/preview", query_string={
        "cron": "30 2 * * *", "timezone": "Europe/London", "after": "2026-03-27T00:00:00Z", "count": 3})
    assert response.status_code == 200
    assert response.get_json() == {"fires": [
        "2026-03-27T02:30:00Z", "2026-03-28T02:30:00Z", "2026-03-29T01:30:00Z"]}


def test_preview_endpoint_interval(client):
    response = client.get("/api/schedule/preview", query_string={
        "interval": "3600", "after": "2026-01-01T00:00:00+01:00", "count": 2})
    assert response.status_code == 200
    assert response.get_json()["fires"] == ["2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"]


def test_preview_endpoint_defaults_to_five_fires_after_now(client):
    response = client.get("/api/schedule/preview", query_string={"cron": "* * * * *"})
    assert response.status_code == 200
    fires = [at(f) for f in response.get_json()["fires"]]
    now = datetime.now(UTC)
    assert len(fires) == 5
    assert fires == sorted(fires) and now < fires[0] <= now + timedelta(minutes=1, seconds=1)
    assert all(b - a == timedelta(minutes=1) for a, b in itertools.pairwise(fires))


def test_preview_endpoint_saves_nothing(client):
    client.get("/api/schedule/preview", query_string={"interval": "60"})
    assert client.get("/api/tasks").get_json()["tasks"] == []


def error_of(response, status=400):
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "invalid" and error["message"]
    return error


@pytest.mark.parametrize("args,field", [
    ({}, "cron"),
    ({"timezone": "UTC"}, "cron"),
    ({"interval": "0"}, "interval"),
    ({"interval": "-5"}, "interval"),
    ({"interval": "ten"}, "interval"),
    ({"cron": "0 2 * * *", "timezone": "Mars/Base"}, "timezone"),
    ({"cron": "0 2 * * *", "count": "0"}, "count"),
    ({"cron": "0 2 * * *", "count": "51"}, "count"),
    ({"cron": "0 2 * * *", "count": "many"}, "count"),
    ({"cron": "0 2 * * *", "after": "yesterday"}, "after"),
], ids=["neither", "neither-with-timezone", "interval-0", "interval-negative", "interval-word",
        "bad-timezone", "count-0", "count-51", "count-word", "bad-after"])
def test_preview_endpoint_refuses(client, args, field):
    assert error_of(client.get("/api/schedule/preview", query_string=args)).get("field") == field


def test_preview_endpoint_bad_cron_is_400(client):
    error = error_of(client.get("/api/schedule/preview", query_string={"cron": "61 * * * *"}))
    assert "cron" in error["message"]
    assert error.get("field") in ("cron", "schedule.expr")


def test_preview_endpoint_bad_cron_names_the_cron_parameter(client):
    error = error_of(client.get("/api/schedule/preview", query_string={"cron": "61 * * * *"}))
    assert error.get("field") == "cron"


def test_preview_endpoint_cron_that_never_fires_is_400(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    error = error_of(client.get("/api/schedule/preview", query_string={"cron": "0 0 30 2 *"}))
    assert "never fires" in error["message"]


def test_preview_endpoint_stops_at_the_end_of_time(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/api/schedule/preview", query_string={"interval": "60", "after": "9999-12-31T23:57:30Z"})
    assert response.status_code == 200
    assert response.get_json() == {"fires": ["9999-12-31T23:58:30Z", "9999-12-31T23:59:30Z"]}
    response = client.get("/api/schedule/preview", query_string={"interval": "60", "after": "9999-12-31T23:59:30Z"})
    assert response.status_code == 200 and response.get_json() == {"fires": []}


def test_a_once_schedule_in_the_past_is_refused_but_a_task_whose_fire_passed_stays_editable(app, client):
    from webapp.core.extensions import db
    from webapp.core.models import Task

    body = {"name": "one-off", "kind": "shell", "config": {"command": "true"},
            "schedule": {"type": "once", "at": "2020-01-01T00:00:00Z"}}
    assert error_of(client.post("/api/tasks", json=body))["field"] == "schedule.at"
    assert client.get("/api/tasks").get_json()["tasks"] == []

    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    task = client.post("/api/tasks", json=dict(body, schedule={"type": "once", "at": soon})).get_json()
    with app.app_context():  # an hour later: the one fire is behind it
        db.session.get(Task, task["id"]).schedule = {"type": "once", "at": "2020-01-01T00:00:00Z"}
        db.session.commit()
    edited = client.patch(f"/api/tasks/{task['id']}", json={"name": "one-off, done"})
    assert edited.status_code == 200, edited.get_data(as_text=True)
    unchanged = client.patch(f"/api/tasks/{task['id']}",
                             json={"schedule": {"type": "once", "at": "2020-01-01T00:00:00Z"}})
    assert unchanged.status_code == 200
    moved = client.patch(f"/api/tasks/{task['id']}",
                         json={"schedule": {"type": "once", "at": "2021-01-01T00:00:00Z"}})
    assert error_of(moved)["field"] == "schedule.at"
