"""Issue 12 items 3 and 8 in the web app: switches hold when a run is dispatched (Run Now
and scheduled fires), enabling or disabling a task is accepted whatever its config, and
a python callable must be a public function defined in its allowed module (at save here;
the worker's own check at run time is tested on worker.kinds directly)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from rq import Queue

from webapp.core.timeutil import utcnow
from worker.kinds import JobRefused, resolve_callable, run_python

MODULE = "tests.unit.callable_jobs"

REFUSED_CALLABLES = [
    "__dir__", "__class__", "__name__",
    "run",            # `from subprocess import run`: imported, not defined there
    "count_primes",   # another allowed module's function, imported
    "_private",       # defined there, not public
    "Job",            # a class
    "later",          # an async def
    "shout",          # a builtin bound to a name
    "missing",
]


@pytest.fixture
def python_app(app):
    app.config["PYTHON_ALLOWED_MODULES"] = ["worker.examples", MODULE]
    return app


def python_body(target: str, name: str = "py") -> dict:
    return {"name": name, "kind": "python", "config": {"callable": target, "kwargs": {}}}


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()["error"]


# --- item 8: callables ------------------------------------------------------------------


@pytest.mark.parametrize("name", REFUSED_CALLABLES)
def test_callable_that_is_not_a_public_function_of_the_module_is_refused_at_save(python_app, client, name):
    error = error_of(client.post("/api/tasks", json=python_body(f"{MODULE}:{name}")), 400)
    assert error["code"] == "invalid" and error["field"] == "config.callable"
    assert client.get("/api/tasks").get_json()["tasks"] == []


def test_public_function_defined_in_the_module_is_accepted(python_app, client):
    response = client.post("/api/tasks", json=python_body(f"{MODULE}:greet"))
    assert response.status_code == 201, response.get_data(as_text=True)


@pytest.mark.parametrize("name", REFUSED_CALLABLES)
def test_callable_that_is_not_a_public_function_of_the_module_is_refused_at_run_time(name):
    with pytest.raises(JobRefused, match="not a public function defined in module"):
        resolve_callable(f"{MODULE}:{name}")
    with pytest.raises(JobRefused):
        run_python({"callable": f"{MODULE}:{name}", "kwargs": {}}, 10, 1, 4096)


def test_public_function_runs():
    assert run_python({"callable": f"{MODULE}:greet", "kwargs": {"name": "ops"}}, 10, 1, 4096).output == "hello ops"


# --- item 3: switches at dispatch ---------------------------------------------------------


@pytest.fixture
def shell_task(client, clean_redis) -> dict:
    response = client.post("/api/tasks", json={
        "name": "scan", "kind": "shell", "config": {"command": "echo scan"},
        "schedule": {"type": "interval", "seconds": 60}})
    assert response.status_code == 201
    return response.get_json()


def queued_job_ids(app, redis) -> list[str]:
    return Queue(app.config["RQ_QUEUE"], connection=redis).job_ids


def test_run_now_of_a_shell_task_with_shell_switched_off_ends_failed_and_queues_nothing(
        app, client, shell_task, clean_redis):
    app.config["SHELL_ENABLED"] = False
    response = client.post(f"/api/tasks/{shell_task['id']}/run")
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "failed" and body["error"] == "shell tasks are switched off"
    run = client.get(f"/api/runs/{body['run_id']}").get_json()
    assert (run["status"], run["error"]) == ("failed", "shell tasks are switched off")
    events = client.get("/api/events").get_json()["events"]
    assert [(e["run_id"], e["status"]) for e in events] == [(body["run_id"], "queued"), (body["run_id"], "failed")]
    assert events[-1]["error"] == "shell tasks are switched off"
    assert queued_job_ids(app, clean_redis) == []
    assert client.get(f"/api/tasks/{shell_task['id']}").get_json()["last_status"] == "failed"


def test_scheduled_fire_of_a_shell_task_with_shell_switched_off_ends_failed(app, client, shell_task, clean_redis):
    from webapp.core.extensions import db
    from webapp.core.models import Task
    from webapp.scheduling.fire import fire_task

    app.config["SHELL_ENABLED"] = False
    with app.app_context():
        task = db.session.get(Task, shell_task["id"])
        task.next_run_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert fire_task(shell_task["id"], utcnow()) == "refused"
    (run,) = client.get(f"/api/tasks/{shell_task['id']}/runs").get_json()["runs"]
    assert (run["trigger"], run["status"], run["error"]) == ("schedule", "failed", "shell tasks are switched off")
    assert queued_job_ids(app, clean_redis) == []


def test_run_now_of_a_python_task_whose_module_left_the_allow_list_ends_failed(python_app, client, clean_redis):
    task = client.post("/api/tasks", json=python_body(f"{MODULE}:greet")).get_json()
    python_app.config["PYTHON_ALLOWED_MODULES"] = ["worker.examples"]
    body = client.post(f"/api/tasks/{task['id']}/run").get_json()
    assert body["status"] == "failed" and MODULE in body["error"] and "not allowed" in body["error"]
    run = client.get(f"/api/runs/{body['run_id']}").get_json()
    assert run["status"] == "failed" and MODULE in run["error"]
    assert queued_job_ids(python_app, clean_redis) == []


def test_with_shell_on_run_now_still_queues(app, client, shell_task, clean_redis):
    body = client.post(f"/api/tasks/{shell_task['id']}/run").get_json()
    assert body["status"] == "queued"
    assert queued_job_ids(app, clean_redis) == [body["job_id"]]


# --- item 3: enabling and disabling whatever the config -----------------------------------


@pytest.mark.parametrize("enabled", [False, True])
def test_shell_task_can_be_enabled_or_disabled_while_shell_is_switched_off(app, client, shell_task, enabled):
    app.config["SHELL_ENABLED"] = False
    response = client.patch(f"/api/tasks/{shell_task['id']}", json={"enabled": enabled})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["enabled"] is enabled
    assert response.get_json()["config"] == {"command": "echo scan"}


def test_python_task_can_be_disabled_after_its_module_left_the_allow_list(python_app, client):
    task = client.post("/api/tasks", json=python_body(f"{MODULE}:greet")).get_json()
    python_app.config["PYTHON_ALLOWED_MODULES"] = ["worker.examples"]
    response = client.patch(f"/api/tasks/{task['id']}", json={"enabled": False})
    assert response.status_code == 200 and response.get_json()["enabled"] is False


def test_changing_the_command_while_shell_is_switched_off_is_still_refused(app, client, shell_task):
    app.config["SHELL_ENABLED"] = False
    error = error_of(client.patch(f"/api/tasks/{shell_task['id']}", json={"config": {"command": "id"}}), 400)
    assert error["field"] == "kind"
    assert client.get(f"/api/tasks/{shell_task['id']}").get_json()["config"] == {"command": "echo scan"}
