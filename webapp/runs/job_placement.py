"""Where RQ holds the job of a run that has not started, and whether anyone still will
start it.

A worker takes a job in steps: it moves the job id from the queue's list to the queue's
intermediate list (``BLMOVE``), then records an execution (``rq:wip:<queue>``, naming
the worker), then records ``running`` in the database and forks. A worker SIGKILLed
between the first step and the last leaves a job that no queue list holds and no live
worker will run, while its run stays ``queued``: RQ's own maintenance fails such a job
only minutes later, and without telling the run. :func:`orphaned` finds those.
"""
from __future__ import annotations

from redis import Redis

from webapp.runs.liveness import liveness_key

# RQ job statuses of a job taken by a worker and not ended (RQ marks ``started`` in the
# work horse; before that the job still says ``queued``). Any other status is a job RQ
# will start in its own time (scheduled, deferred) or one that has ended.
TAKEN = {"queued", "started"}


def orphaned(redis: Redis, job_id: str) -> bool:
    """True when job ``job_id`` exists, is not waiting on its queue (the job's own
    ``origin``, whatever its task says now) or in RQ's scheduled or deferred registries,
    and no worker whose liveness key is still alive holds an execution of it: a worker
    took it and died before it began.

    A job that has ended in RQ (finished, failed, stopped, canceled) is never orphaned:
    its end is the run's business, not a reason to run it again. The answer is read in a
    few separate commands, so a worker between its first two steps can look like an
    orphan for a moment: callers confirm a verdict on a later sweep.
    """
    status, origin = redis.hmget(f"rq:job:{job_id}", "status", "origin")
    if status is None or origin is None or status.decode() not in TAKEN:
        return False
    queue_name = origin.decode()
    with redis.pipeline(transaction=False) as pipe:
        pipe.lpos(f"rq:queue:{queue_name}", job_id)
        pipe.zrange(f"rq:wip:{queue_name}", 0, -1)
        position, in_progress = pipe.execute()
    if position is not None:
        return False
    executions = [key.decode() for key in in_progress if key.decode().startswith(f"{job_id}:")]
    return not any(_owner_alive(redis, key) for key in executions)


def forget_taken(redis: Redis, job_id: str) -> None:
    """Drop a dead worker's marks of job ``job_id`` (its intermediate-list entry, its
    executions, on the job's own queue), so that RQ's later clean-up does not fail the
    job again after it has been queued anew and perhaps run."""
    origin = redis.hget(f"rq:job:{job_id}", "origin")
    if origin is None:
        return
    queue_name = origin.decode()
    in_progress = redis.zrange(f"rq:wip:{queue_name}", 0, -1)
    executions = [key for key in in_progress if key.decode().startswith(f"{job_id}:")]
    with redis.pipeline(transaction=False) as pipe:
        pipe.lrem(f"rq:queue:{queue_name}:intermediate", 0, job_id)
        if executions:
            pipe.zrem(f"rq:wip:{queue_name}", *executions)
            for key in executions:
                pipe.delete(f"rq:execution:{key.decode()}")
        pipe.execute()


def _owner_alive(redis: Redis, composite_key: str) -> bool:
    worker = redis.hget(f"rq:execution:{composite_key}", "worker_name")
    return bool(worker) and bool(redis.exists(liveness_key(worker.decode())))
