"""Issue 12 item 4, the rule itself: which RQ jobs count as Taskpulse's (worker.guard).
The real worker refusing them is tests/e2e/test_worker_hardening.py."""
from __future__ import annotations

import pytest
from rq import Callback, Queue
from rq.serializers import DefaultSerializer, JSONSerializer

from webapp.runs.dispatch import CALLBACKS, JOB_FUNCTION
from worker.guard import foreign_reason, is_json_serializer


@pytest.fixture
def queue(clean_redis) -> Queue:
    return Queue("taskpulse", connection=clean_redis, serializer=JSONSerializer)


def taskpulse_job(queue: Queue, run_id: int = 7, **overrides):
    fields = {"job_id": f"run-{run_id}", **{name: Callback(path) for name, path in CALLBACKS.items()}}
    fields.update(overrides)
    return queue.enqueue(JOB_FUNCTION, run_id, **fields)


def test_a_job_as_dispatch_makes_it_is_taskpulses(queue):
    assert foreign_reason(taskpulse_job(queue)) is None


@pytest.mark.parametrize("make, reason", [
    (lambda q: q.enqueue("subprocess.call", ["id"]), "it calls 'subprocess.call'"),
    (lambda q: q.enqueue("os.system", "id", job_id="run-3"), "it calls 'os.system'"),
    (lambda q: q.enqueue(JOB_FUNCTION, 7, job_id="run-8"), "not those of a Taskpulse run"),
    (lambda q: q.enqueue(JOB_FUNCTION, "7", job_id="run-7"), "not those of a Taskpulse run"),
    (lambda q: q.enqueue(JOB_FUNCTION, 7, 8, job_id="run-7"), "not those of a Taskpulse run"),
    (lambda q: q.enqueue(JOB_FUNCTION, run_id=7, job_id="run-7"), "not those of a Taskpulse run"),
    (lambda q: q.enqueue(JOB_FUNCTION, 7), "not those of a Taskpulse run"),
    (lambda q: taskpulse_job(q, on_success=Callback("subprocess.call")), "callback 'subprocess.call'"),
    (lambda q: taskpulse_job(q, on_failure=Callback("os.system")), "callback 'os.system'"),
])
def test_other_jobs_are_foreign(queue, make, reason):
    assert reason in foreign_reason(make(queue))


def test_a_pickled_job_is_foreign_and_is_never_unpickled(clean_redis, queue):
    job = Queue("taskpulse", connection=clean_redis).enqueue("subprocess.call", ["id"])  # pickle
    (fetched,) = queue.get_jobs()  # read as the worker reads it: JSON
    assert fetched.id == job.id
    assert foreign_reason(fetched) == "its data is not Taskpulse's JSON job format"


def test_only_the_json_serializer_is_json():
    assert is_json_serializer(JSONSerializer) and not is_json_serializer(DefaultSerializer)


def test_alert_deliveries_are_allowed_exactly_as_dispatch_makes_them(queue):
    from webapp.runs.dispatch import DELIVERY_FUNCTION, SUMMARY_FUNCTION

    assert foreign_reason(queue.enqueue(DELIVERY_FUNCTION, 5, job_id="notify-5")) is None
    assert foreign_reason(queue.enqueue(SUMMARY_FUNCTION, 2, 1700, job_id="notify-summary-2-1700")) is None
    assert "alert delivery" in foreign_reason(queue.enqueue(DELIVERY_FUNCTION, 5, job_id="notify-6"))
    assert "alert delivery" in foreign_reason(queue.enqueue(DELIVERY_FUNCTION, "x", job_id="notify-x"))
    assert "alert delivery" in foreign_reason(queue.enqueue(DELIVERY_FUNCTION, 5, job_id="notify-5b", extra=1))
    hooked = queue.enqueue(DELIVERY_FUNCTION, 8, job_id="notify-8", on_success=Callback(CALLBACKS["on_success"]))
    assert "callbacks" in foreign_reason(hooked)
