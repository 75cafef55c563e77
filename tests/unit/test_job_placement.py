"""Where RQ holds a run's job that has not started (webapp.runs.job_placement), on the
private redis-server: what a worker killed between taking a job and beginning it leaves."""
from __future__ import annotations

import pytest

from webapp.runs import job_placement
from webapp.runs.liveness import beat

QUEUE = "placement"
JOB = "run-7"


@pytest.fixture
def redis(clean_redis):
    return clean_redis


def job(redis, status: str = "queued") -> None:
    redis.hset(f"rq:job:{JOB}", mapping={"status": status, "origin": QUEUE})


def taken(redis, worker: str | None) -> None:
    """A worker's hold, as RQ leaves it: the id on the intermediate list and, once the
    worker has recorded its execution, an entry in the queue's wip registry."""
    redis.rpush(f"rq:queue:{QUEUE}:intermediate", JOB)
    if worker is not None:
        redis.zadd(f"rq:wip:{QUEUE}", {f"{JOB}:abc": 9e9})
        redis.hset(f"rq:execution:{JOB}:abc", mapping={"worker_name": worker})


def test_a_job_waiting_on_its_queue_is_not_orphaned(redis):
    job(redis)
    redis.rpush(f"rq:queue:{QUEUE}", "run-1", JOB)
    assert not job_placement.orphaned(redis, JOB)


def test_a_job_taken_and_never_recorded_is_orphaned(redis):
    job(redis)
    taken(redis, worker=None)
    assert job_placement.orphaned(redis, JOB)


def test_a_job_held_by_a_live_worker_is_not_orphaned_and_by_a_dead_one_is(redis):
    job(redis, "started")
    taken(redis, worker="w1")
    beat(redis, "w1")
    assert not job_placement.orphaned(redis, JOB)
    redis.delete("taskpulse:worker:w1:alive")
    assert job_placement.orphaned(redis, JOB)


@pytest.mark.parametrize("status", ["scheduled", "deferred", "finished", "failed", "stopped", "canceled"])
def test_a_job_rq_will_start_later_or_has_ended_is_not_orphaned(redis, status):
    job(redis, status)
    assert not job_placement.orphaned(redis, JOB)


def test_a_job_gone_from_redis_is_not_orphaned(redis):
    assert not job_placement.orphaned(redis, JOB)


def test_forgetting_a_dead_workers_hold_leaves_other_jobs_alone(redis):
    job(redis)
    taken(redis, worker="w1")
    redis.rpush(f"rq:queue:{QUEUE}:intermediate", "run-8")
    redis.zadd(f"rq:wip:{QUEUE}", {"run-8:def": 9e9})
    job_placement.forget_taken(redis, JOB)
    assert [k.decode() for k in redis.lrange(f"rq:queue:{QUEUE}:intermediate", 0, -1)] == ["run-8"]
    assert [k.decode() for k in redis.zrange(f"rq:wip:{QUEUE}", 0, -1)] == ["run-8:def"]
    assert not redis.exists(f"rq:execution:{JOB}:abc")


def test_the_job_is_looked_for_on_its_own_queue(redis):
    # Its task moved to another queue meanwhile: the job still waits where it was put.
    redis.hset(f"rq:job:{JOB}", mapping={"status": "queued", "origin": "old-queue"})
    redis.rpush("rq:queue:old-queue", JOB)
    assert not job_placement.orphaned(redis, JOB)
    redis.delete("rq:queue:old-queue")
    assert job_placement.orphaned(redis, JOB)
