"""Task validation (webapp.tasks.validation.clean_task) and task CRUD, through the JSON API
as a client sees them: status, the JSON error shape, the field named, nothing stored."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

VALID = {"name": "nightly-scan", "kind": "shell", "config": {"command": "echo scan"}}


def body(**changes):
    """A valid task body with some fields changed (value ``...`` removes the field)."""
    data = json.loads(json.dumps(VALID))
    for key, value in changes.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def listing(client) -> list[dict]:
    response = client.get("/api/tasks")
    assert response.status_code == 200
    return response.get_json()["tasks"]


def assert_error(response, status: int, code: str, field: str | None) -> dict:
    """The response is the API's JSON error with this status, code and field."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json, response.get_data(as_text=True)[:200]
    error = response.get_json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    if field is None:
        assert error.get("field") is None
    else:
        assert error.get("field") == field, error
    return error


@pytest.fixture
def existing(client) -> dict:
    """One stored task, so "nothing stored" is checked against a non-empty listing."""
    response = client.post("/api/tasks", json={
        "name": "backup", "kind": "shell", "config": {"command": "tar czf /tmp/b.tgz /etc"},
        "description": "nightly backup", "schedule": {"type": "cron", "expr": "0 2 * * *"},
        "timezone": "Europe/London", "timeout": 600, "retries": {"max": 2, "backoff": [10, 60]},
        "overlap": "queue", "enabled": False,
    })
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


INVALID_BODIES = [
    # (id, body, field)
    ("kind-unknown", body(kind="perl"), "kind"),
    ("kind-missing", body(kind=...), "kind"),
    ("kind-not-string", body(kind=["shell"]), "kind"),
    ("name-missing", body(name=...), "name"),
    ("name-empty", body(name=""), "name"),
    ("name-blank", body(name="   "), "name"),
    ("name-not-string", body(name=42), "name"),
    ("name-bell", body(name="scan\x07now"), "name"),
    ("name-newline", body(name="scan\nnow"), "name"),
    ("name-nul", body(name="scan\x00"), "name"),
    ("name-zero-width", body(name="scan\u200bnow"), "name"),
    ("name-line-separator", body(name="scan\u2028now"), "name"),
    ("name-201-chars", body(name="n" * 201), "name"),
    ("config-string", body(config="echo hi"), "config"),
    ("config-list", body(config=["echo", "hi"]), "config"),
    ("config-null", body(config=None), "config"),
    ("config-missing", body(config=...), "config"),
    ("shell-command-empty", body(config={"command": ""}), "config.command"),
    ("shell-command-blank", body(config={"command": "  \t "}), "config.command"),
    ("shell-command-missing", body(config={}), "config.command"),
    ("shell-command-not-string", body(config={"command": ["ls"]}), "config.command"),
    ("python-callable-no-colon", body(kind="python", config={"callable": "worker.examples.count_primes"}),
     "config.callable"),
    ("python-callable-no-function", body(kind="python", config={"callable": "worker.examples:"}),
     "config.callable"),
    ("python-callable-two-colons", body(kind="python", config={"callable": "worker.examples:a:b"}),
     "config.callable"),
    ("python-callable-missing", body(kind="python", config={}), "config.callable"),
    ("python-module-not-allowed", body(kind="python", config={"callable": "os:system"}), "config.callable"),
    ("python-module-prefix-not-allowed",
     body(kind="python", config={"callable": "worker.examples_evil:count_primes"}), "config.callable"),
    ("python-kwargs-list",
     body(kind="python", config={"callable": "worker.examples:count_primes", "kwargs": [1]}),
     "config.kwargs"),
    ("unknown-field", body(colour="red"), "colour"),
    ("read-only-id", body(id=7), "id"),
    ("read-only-last-status", body(last_status="success"), "last_status"),
    ("read-only-next-run-at", body(next_run_at="2030-01-01T00:00:00Z"), "next_run_at"),
    ("timeout-zero", body(timeout=0), "timeout"),
    ("timeout-negative", body(timeout=-5), "timeout"),
    ("timeout-bool", body(timeout=True), "timeout"),
    ("timeout-string", body(timeout="30"), "timeout"),
    ("timeout-float", body(timeout=1.5), "timeout"),
    ("timeout-over-a-week", body(timeout=7 * 24 * 3600 + 1), "timeout"),
    ("overlap-unknown", body(overlap="never"), "overlap"),
    ("overlap-null", body(overlap=None), "overlap"),
    ("retries-string", body(retries="3"), "retries"),
    ("retries-list", body(retries=[2]), "retries"),
    ("retries-max-missing", body(retries={"backoff": [10]}), "retries.max"),
    ("retries-max-negative", body(retries={"max": -1}), "retries.max"),
    ("retries-max-bool", body(retries={"max": True}), "retries.max"),
    ("retries-max-too-big", body(retries={"max": 11}), "retries.max"),
    ("retries-backoff-string", body(retries={"max": 2, "backoff": "10,60"}), "retries.backoff"),
    ("retries-backoff-negative", body(retries={"max": 2, "backoff": [10, -1]}), "retries.backoff"),
    ("retries-backoff-too-long", body(retries={"max": 2, "backoff": [1] * 11}), "retries.backoff"),
    ("schedule-string", body(schedule="0 2 * * *"), "schedule"),
    ("schedule-type-unknown", body(schedule={"type": "weekly"}), "schedule.type"),
    ("schedule-type-missing", body(schedule={"expr": "0 2 * * *"}), "schedule.type"),
    ("cron-bad-minute", body(schedule={"type": "cron", "expr": "61 * * * *"}), "schedule.expr"),
    ("cron-words", body(schedule={"type": "cron", "expr": "every day"}), "schedule.expr"),
    ("cron-six-fields", body(schedule={"type": "cron", "expr": "0 0 2 * * *"}), "schedule.expr"),
    ("cron-empty", body(schedule={"type": "cron", "expr": ""}), "schedule.expr"),
    ("cron-missing", body(schedule={"type": "cron"}), "schedule.expr"),
    ("interval-zero", body(schedule={"type": "interval", "seconds": 0}), "schedule.seconds"),
    ("interval-negative", body(schedule={"type": "interval", "seconds": -30}), "schedule.seconds"),
    ("interval-bool", body(schedule={"type": "interval", "seconds": True}), "schedule.seconds"),
    ("interval-string", body(schedule={"type": "interval", "seconds": "30"}), "schedule.seconds"),
    ("once-words", body(schedule={"type": "once", "at": "tomorrow at 2"}), "schedule.at"),
    ("once-bad-month", body(schedule={"type": "once", "at": "2026-13-01T00:00:00Z"}), "schedule.at"),
    ("once-number", body(schedule={"type": "once", "at": 1767225600}), "schedule.at"),
    ("timezone-unknown", body(timezone="Mars/Olympus_Mons"), "timezone"),
    ("timezone-empty", body(timezone=""), "timezone"),
    ("timezone-path", body(timezone="../../etc/passwd"), "timezone"),
    ("timezone-number", body(timezone=1), "timezone"),
    ("enabled-string", body(enabled="yes"), "enabled"),
    ("description-number", body(description=5), "description"),
]


@pytest.mark.parametrize("data,field", [c[1:] for c in INVALID_BODIES], ids=[c[0] for c in INVALID_BODIES])
def test_invalid_task_is_refused_with_field_and_nothing_stored(client, existing, data, field):
    before = listing(client)
    response = client.post("/api/tasks", json=data)
    assert_error(response, 400, "invalid", field)
    assert listing(client) == before


@pytest.mark.parametrize("raw,content_type", [
    ("name=x&kind=shell", "application/x-www-form-urlencoded"),
    ('{"name": "x", "kind": ', "application/json"),
    ('{"name": "x", "kind": "shell", "config": {"command": "true"}}', "text/plain"),
    ("", "application/json"),
    ("null", "application/json"),
    ('[{"name": "x", "kind": "shell", "config": {"command": "true"}}]', "application/json"),
    ('"a string"', "application/json"),
    ("42", "application/json"),
], ids=["form", "truncated-json", "json-as-text-plain", "empty", "null", "list", "string", "number"])
def test_body_that_is_not_a_json_object_is_refused(client, existing, raw, content_type):
    before = listing(client)
    response = client.post("/api/tasks", data=raw, content_type=content_type)
    assert_error(response, 400, "invalid", None)
    assert listing(client) == before


def test_valid_task_is_created_with_defaults(client):
    response = client.post("/api/tasks", json=body(name="  padded name  "))
    assert response.status_code == 201
    task = response.get_json()
    assert task["name"] == "padded name"
    assert task["config"] == {"command": "echo scan"}
    assert (task["description"], task["schedule"], task["timezone"], task["enabled"]) == ("", None, "UTC", True)
    assert (task["timeout"], task["retries"], task["overlap"]) == (300, None, "skip")
    assert task["last_status"] is None and task["last_run_at"] is None and task["next_run_at"] is None
    assert task["created_at"].endswith("Z")
    assert client.get(f"/api/tasks/{task['id']}").get_json() == task
    assert [t["id"] for t in listing(client)] == [task["id"]]


def test_name_of_200_characters_is_accepted(client):
    response = client.post("/api/tasks", json=body(name="n" * 200))
    assert response.status_code == 201
    assert response.get_json()["name"] == "n" * 200


def test_python_task_keeps_callable_and_kwargs(client):
    response = client.post("/api/tasks", json=body(
        kind="python", config={"callable": "worker.examples:count_primes", "kwargs": {"limit": 50}}))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["config"] == {"callable": "worker.examples:count_primes", "kwargs": {"limit": 50}}


def test_scheduled_task_gets_next_run_at(client):
    response = client.post("/api/tasks", json=body(schedule={"type": "interval", "seconds": 60}))
    assert response.status_code == 201
    task = response.get_json()
    assert task["schedule"] == {"type": "interval", "seconds": 60}
    assert task["next_run_at"] is not None and task["next_run_at"].endswith("Z")


def test_duplicate_name_on_create_is_409(client, existing):
    before = listing(client)
    response = client.post("/api/tasks", json=body(name="backup"))
    assert_error(response, 409, "conflict", "name")
    # The name is compared after trimming, as it is stored.
    response = client.post("/api/tasks", json=body(name="  backup "))
    assert_error(response, 409, "conflict", "name")
    assert listing(client) == before


def test_rename_onto_an_existing_name_is_409_and_changes_nothing(client, existing):
    other = client.post("/api/tasks", json=body(name="scan")).get_json()
    before = listing(client)
    response = client.patch(f"/api/tasks/{other['id']}", json={"name": "backup"})
    assert_error(response, 409, "conflict", "name")
    assert listing(client) == before


def test_patch_keeping_its_own_name_is_not_a_conflict(client, existing):
    response = client.patch(f"/api/tasks/{existing['id']}", json={"name": "backup", "timeout": 601})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["timeout"] == 601


def test_patch_changes_only_the_given_fields(client, existing):
    response = client.patch(f"/api/tasks/{existing['id']}", json={"timeout": 120, "enabled": True})
    assert response.status_code == 200, response.get_data(as_text=True)
    updated = response.get_json()
    assert updated["timeout"] == 120 and updated["enabled"] is True
    unchanged = {k: v for k, v in existing.items() if k not in ("timeout", "enabled", "updated_at")}
    assert {k: updated[k] for k in unchanged} == unchanged
    assert client.get(f"/api/tasks/{existing['id']}").get_json() == updated


def test_patch_removing_the_schedule_clears_next_run_at(client, existing):
    assert existing["next_run_at"] is not None
    response = client.patch(f"/api/tasks/{existing['id']}", json={"schedule": None})
    assert response.status_code == 200
    assert response.get_json()["schedule"] is None
    assert response.get_json()["next_run_at"] is None


@pytest.mark.parametrize("data,field", [
    ({"timeout": 0}, "timeout"),
    ({"kind": "python"}, "config.callable"),  # the stored shell config does not fit python
    ({"config": {"command": ""}}, "config.command"),
    ({"id": 99}, "id"),
    ({"name": ""}, "name"),
    ({"schedule": {"type": "interval", "seconds": 0}}, "schedule.seconds"),
])
def test_invalid_patch_is_refused_and_changes_nothing(client, existing, data, field):
    before = listing(client)
    response = client.patch(f"/api/tasks/{existing['id']}", json=data)
    assert_error(response, 400, "invalid", field)
    assert listing(client) == before


def test_patch_with_a_list_body_is_refused(client, existing):
    response = client.patch(f"/api/tasks/{existing['id']}", json=[{"timeout": 5}])
    assert_error(response, 400, "invalid", None)


def test_patch_unknown_task_is_404_json(client):
    response = client.patch("/api/tasks/999", json={"timeout": 5})
    assert_error(response, 404, "not_found", None)


def test_get_unknown_task_is_404_json(client):
    assert_error(client.get("/api/tasks/999"), 404, "not_found", None)


def test_get_unknown_run_is_404_json(client):
    assert_error(client.get("/api/runs/999"), 404, "not_found", None)


def test_runs_of_unknown_task_is_404_json(client):
    assert_error(client.get("/api/tasks/999/runs"), 404, "not_found", None)


def test_delete_is_204_then_404(client, existing):
    response = client.delete(f"/api/tasks/{existing['id']}")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert_error(client.get(f"/api/tasks/{existing['id']}"), 404, "not_found", None)
    assert listing(client) == []
    assert_error(client.delete(f"/api/tasks/{existing['id']}"), 404, "not_found", None)


def test_deleted_task_runs_do_not_leak_into_a_new_task(app, client, make_task):
    from webapp.core.extensions import db
    from webapp.core.models import Task
    from webapp.runs.state import open_run

    task_id = make_task(name="old")
    with app.app_context():
        run, _ = open_run(db.session.get(Task, task_id), "manual")  # left queued
        db.session.commit()
        run_id = run.id
    assert client.delete(f"/api/tasks/{task_id}").status_code == 204
    assert client.get(f"/api/runs/{run_id}").status_code == 404

    new = client.post("/api/tasks", json=body(name="new")).get_json()
    assert client.get(f"/api/tasks/{new['id']}/runs").get_json()["runs"] == []


@pytest.mark.parametrize("path,method", [
    ("/api/tasks/abc", "GET"),
    ("/api/no-such-endpoint", "GET"),
    ("/api/tasks/1", "PUT"),
], ids=["non-integer-id", "unknown-endpoint", "method-not-allowed"])
def test_unrouted_api_urls_answer_json_errors(client, path, method):
    response = client.open(path, method=method, json={})
    assert response.status_code in (404, 405)
    assert response.is_json
    assert "code" in response.get_json()["error"]


# --- 500s found while probing: each is a 4xx the API should give ---------------------

@pytest.fixture
def app_500s(app):
    """Let an unhandled error come back as a 500 response instead of raising."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def test_timezone_naming_a_zone_directory_is_400(app_500s, client, existing):
    before = listing(client)
    response = client.post("/api/tasks", json=body(timezone="America"))
    assert_error(response, 400, "invalid", "timezone")
    assert listing(client) == before


def test_cron_that_never_fires_is_400(app_500s, client, existing):
    # Was a 500 (CroniterBadDateError from next_fire); now refused at validation.
    before = listing(client)
    response = client.post("/api/tasks", json=body(schedule={"type": "cron", "expr": "0 0 31 2 *"}))
    assert_error(response, 400, "invalid", "schedule.expr")
    assert listing(client) == before


def test_once_instant_out_of_range_is_400(app_500s, client, existing):
    before = listing(client)
    response = client.post("/api/tasks", json=body(schedule={"type": "once", "at": "9999-12-31T23:59:59-01:00"}))
    assert_error(response, 400, "invalid", "schedule.at")
    assert listing(client) == before


def test_name_with_lone_surrogate_is_400(app_500s, client, existing):
    before = listing(client)
    raw = '{"name": "scan\\ud800", "kind": "shell", "config": {"command": "true"}}'
    response = client.post("/api/tasks", data=raw, content_type="application/json")
    assert_error(response, 400, "invalid", "name")
    assert listing(client) == before


# --- random bodies -------------------------------------------------------------------

JSON_SCALARS = st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False) | st.text(max_size=30)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
FIELD_VALUES = {
    "name": st.sampled_from(["dup", "scan", " scan "]) | st.text(max_size=210) | JSON_VALUES,
    "kind": st.sampled_from(["shell", "python", "perl", ""]) | JSON_VALUES,
    "config": st.fixed_dictionaries({}, optional={
        "command": st.sampled_from(["echo hi", "", "  "]) | st.text(max_size=20) | JSON_VALUES,
        "callable": st.sampled_from(["worker.examples:count_primes", "os:system", "x"]) | JSON_VALUES,
        "kwargs": JSON_VALUES,
    }) | JSON_VALUES,
    "description": st.text(max_size=20) | JSON_VALUES,
    "schedule": st.none() | st.fixed_dictionaries({
        "type": st.sampled_from(["cron", "interval", "once", "x"]),
    }, optional={
        "expr": st.sampled_from(["0 2 * * *", "@daily", "*/5 * * * *", "61 * * * *"]) | JSON_VALUES,
        "seconds": st.integers(-5, 10**9) | JSON_VALUES,
        "at": st.sampled_from(["2030-01-01T00:00:00Z", "2030-01-01", "soon"]) | JSON_VALUES,
    }) | JSON_VALUES,
    "timezone": st.sampled_from(["UTC", "Europe/London", "Nowhere/City"]) | JSON_VALUES,
    "enabled": st.booleans() | JSON_VALUES,
    "timeout": st.integers(-5, 10**7) | JSON_VALUES,
    "retries": st.none() | st.fixed_dictionaries({}, optional={
        "max": st.integers(-2, 12) | JSON_VALUES,
        "backoff": st.lists(st.integers(-2, 90000), max_size=12) | JSON_VALUES,
    }) | JSON_VALUES,
    "overlap": st.sampled_from(["skip", "allow", "queue"]) | JSON_VALUES,
    "misfire": st.sampled_from(["run_once", "skip", "later"]) | JSON_VALUES,
}
EXTRA_KEYS = st.sampled_from(["id", "last_status", "next_run_at", "colour"]) | st.text(max_size=8)


@st.composite
def task_bodies(draw):
    """Mostly a valid task with a few fields replaced by random JSON; sometimes anything."""
    if draw(st.integers(0, 9)) == 9:
        return draw(JSON_VALUES)
    if draw(st.booleans()):
        data = {"name": "scan", "kind": "shell", "config": {"command": "echo hi"}}
    else:
        data = {"name": "scan", "kind": "python",
                "config": {"callable": "worker.examples:count_primes", "kwargs": {"limit": 10}}}
    for field in draw(st.sets(st.sampled_from(sorted(FIELD_VALUES)), max_size=3)):
        data[field] = draw(FIELD_VALUES[field])
    for field in draw(st.sets(st.sampled_from(["name", "kind", "config"]), max_size=1)):
        if draw(st.integers(0, 3)) == 3:
            del data[field]
    if draw(st.integers(0, 9)) == 9:
        data[draw(EXTRA_KEYS)] = draw(JSON_VALUES)
    return data


@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=task_bodies())
def test_random_bodies_never_cause_a_500(app, client, data):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    if not any(t["name"] == "dup" for t in listing(client)):
        assert client.post("/api/tasks", json=body(name="dup")).status_code == 201
    before = listing(client)
    response = client.post("/api/tasks", json=data)
    assert response.status_code in (201, 400, 409), (response.status_code, response.get_data(as_text=True))
    assert response.is_json
    after = listing(client)
    if response.status_code == 201:
        created = response.get_json()
        assert created in after and len(after) == len(before) + 1
        assert client.delete(f"/api/tasks/{created['id']}").status_code == 204
    else:
        error = response.get_json()["error"]
        assert error["code"] == ("invalid" if response.status_code == 400 else "conflict")
        assert isinstance(error["message"], str)
        assert error.get("field") is None or isinstance(error["field"], str)
        assert after == before
