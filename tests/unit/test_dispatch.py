"""Run Now (POST /api/tasks/<id>/run) against the private Redis: the response, the RQ job
as `rq info` and a worker see it, conflicts, and a dead Redis."""
from __future__ import annotations

import json
import pickle
import zlib

import pytest
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from webapp.runs.dispatch import JOB_FUNCTION


@pytest.fixture
def task(client, clean_redis) -> dict:
    response = client.post("/api/tasks", json={
        "name": "scan", "kind": "shell", "config": {"command": "echo scan"}, "timeout": 45})
    assert response.status_code == 201
    return response.get_json()


def run_now(client, task_id: int):
    return client.post(f"/api/tasks/{task_id}/run")


def test_run_now_answers_202_with_the_run(client, task):
    response = run_now(client, task["id"])
    assert response.status_code == 202
    body = response.get_json()
    assert set(body) == {"run_id", "job_id", "status"}
    assert body["status"] == "queued" and body["job_id"] == f"run-{body['run_id']}"
    run = client.get(f"/api/runs/{body['run_id']}").get_json()
    assert run["status"] == "queued" and run["job_id"] == body["job_id"] and run["trigger"] == "manual"
    assert client.get(f"/api/tasks/{task['id']}").get_json()["last_status"] == "queued"
    events = client.get("/api/events").get_json()["events"]
    assert [(e["run_id"], e["status"]) for e in events] == [(body["run_id"], "queued")]


def test_the_rq_job_is_queued_with_json_and_callbacks(client, task, clean_redis):
    body = run_now(client, task["id"]).get_json()
    job_id = body["job_id"]

    queue = Queue("taskpulse", connection=clean_redis, serializer=JSONSerializer)
    assert queue.job_ids == [job_id]
    job = Job.fetch(job_id, connection=clean_redis, serializer=JSONSerializer)
    assert job.func_name == JOB_FUNCTION == "worker.runner.execute_run"
    assert list(job.args) == [body["run_id"]]
    assert job.origin == "taskpulse"
    assert job.timeout == task["timeout"] + 15
    assert "scan" in job.description

    raw = clean_redis.hgetall(f"rq:job:{job_id}")
    data = zlib.decompress(raw[b"data"])
    assert not data.startswith(b"\x80")  # a pickle would start with the protocol opcode
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(data)
    decoded = json.loads(data)
    assert decoded[0] == "worker.runner.execute_run" and body["run_id"] in decoded[2]
    assert raw[b"success_callback_name"] == b"worker.callbacks.on_success"
    assert raw[b"failure_callback_name"] == b"worker.callbacks.on_failure"
    assert raw[b"stopped_callback_name"] == b"worker.callbacks.on_stopped"
    assert int(raw[b"timeout"]) == task["timeout"] + 15


def test_python_task_timeout_has_no_grace(client, clean_redis):
    response = client.post("/api/tasks", json={
        "name": "primes", "kind": "python", "timeout": 30,
        "config": {"callable": "worker.examples:count_primes", "kwargs": {"limit": 100}}})
    body = run_now(client, response.get_json()["id"]).get_json()
    job = Job.fetch(body["job_id"], connection=clean_redis, serializer=JSONSerializer)
    assert job.timeout == 30


def test_second_run_now_while_queued_is_409(client, task, clean_redis):
    first = run_now(client, task["id"]).get_json()
    second = run_now(client, task["id"])
    assert second.status_code == 409
    error = second.get_json()["error"]
    assert error["code"] == "conflict" and error["message"]
    queue = Queue("taskpulse", connection=clean_redis, serializer=JSONSerializer)
    assert queue.job_ids == [first["job_id"]]
    runs = client.get(f"/api/tasks/{task['id']}/runs").get_json()["runs"]
    assert [r["id"] for r in runs] == [first["run_id"]]


def test_run_now_after_the_run_finished_is_accepted(app, client, task):
    from webapp.runs.state import update_task_status

    first = run_now(client, task["id"]).get_json()
    with app.app_context():
        update_task_status(first["run_id"], "running")
        update_task_status(first["run_id"], "success")
    second = run_now(client, task["id"])
    assert second.status_code == 202
    assert second.get_json()["run_id"] != first["run_id"]


def test_disabled_task_can_still_run_now(client, task):
    assert client.patch(f"/api/tasks/{task['id']}", json={"enabled": False}).status_code == 200
    assert run_now(client, task["id"]).status_code == 202


def test_run_now_for_an_unknown_task_is_404(client, clean_redis):
    response = run_now(client, 999)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert clean_redis.keys("rq:job:*") == []


def test_dead_redis_is_503_and_the_run_ends_failed(app, client, task, closed_redis_url):
    app.config["REDIS_URL"] = closed_redis_url
    response = run_now(client, task["id"])
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "queue_unavailable" and error["message"]

    runs = client.get(f"/api/tasks/{task['id']}/runs").get_json()["runs"]
    assert len(runs) == 1
    run = runs[0]
    assert run["status"] == "failed" and run["finished_at"] is not None
    assert run["error"].startswith("could not queue the job")
    stored = client.get(f"/api/tasks/{task['id']}").get_json()
    assert stored["last_status"] == "failed" and stored["last_error"] == run["error"]
    events = client.get("/api/events").get_json()["events"]
    assert [(e["run_id"], e["status"]) for e in events] == [(run["id"], "queued"), (run["id"], "failed")]

    # Nothing is left active: the next Run Now is not refused as a conflict.
    assert run_now(client, task["id"]).status_code == 503
