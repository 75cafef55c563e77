"""Bare RQ beside Taskpulse, in the same run: the yardstick of issue 20.

Plain ``rq worker`` processes (RQ's own forking ``rq.Worker``, RQ's JSON serializer, no
Taskpulse code) on their own queue of the *same* Redis the Taskpulse stack uses, and a
job whose ``on_success`` callback publishes to Redis, as Taskpulse's state change does.
The benchmark subscribes to that channel, so a bare round trip is measured the way a
Taskpulse one is: from just before the enqueue to the moment the published message is
received by the benchmark.

    bare = BareRQ(redis_url, workdir).start(workers=1)
    bare.round_trip(NOOP)                      # ms, enqueue -> callback's message received
    bare.drain(300)                            # jobs a second, first enqueue -> last message
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import redis
from rq import Callback, Queue
from rq.serializers import JSONSerializer

from bench import bare_jobs
from tests.support.processes import ROOT, VENV_BIN, Process, wait_until

QUEUE = "bench-bare-rq"
NOOP = "bench.bare_jobs.noop"
SHELL_TRUE = "bench.bare_jobs.shell_true"
STARTED_AT = "bench.bare_jobs.started_at"
ON_SUCCESS = "bench.bare_jobs.on_success"


class BareRQ:
    """``workers`` plain forking ``rq worker``s on :data:`QUEUE`, and a listener that
    records when each job's callback message arrives."""

    def __init__(self, redis_url: str, workdir: Path) -> None:
        self.redis_url = redis_url
        self.workdir = workdir
        self.connection = redis.Redis.from_url(redis_url)
        self.queue = Queue(QUEUE, connection=self.connection, serializer=JSONSerializer)
        self.workers: list[Process] = []
        self.done: dict[str, float] = {}  # job id -> when its message was received
        self.results: dict[str, Any] = {}  # job id -> what the job returned
        self._cond = threading.Condition()
        self._pubsub = self.connection.pubsub()
        self._listener: threading.Thread | None = None

    def start(self, workers: int = 1) -> "BareRQ":
        self._pubsub.subscribe(bare_jobs.CHANNEL)
        self._listener = threading.Thread(target=self._listen, name="bare-rq-listener", daemon=True)
        self._listener.start()
        for index in range(workers):
            name = f"bare-{uuid.uuid4().hex[:8]}-{index}"
            process = Process(name, [
                str(VENV_BIN / "rq"), "worker", "--url", self.redis_url,
                "--serializer", "rq.serializers.JSONSerializer", "--name", name, QUEUE,
            ], {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "PYTHONPATH": str(ROOT),
                "PYTHONWARNINGS": "ignore::DeprecationWarning"}, self.workdir).start()
            self.workers.append(process)
            wait_until(lambda n=name: self.connection.exists(f"rq:worker:{n}"), 30, what=f"bare rq worker {name}")
        # One job first, so that both sides start warm (imports done in the worker).
        self.round_trip(NOOP)
        return self

    def _listen(self) -> None:
        try:
            self._take_messages()
        except (redis.RedisError, ValueError):
            # stop() closes the subscription under this thread; nothing is waiting then.
            pass

    def _take_messages(self) -> None:
        for message in self._pubsub.listen():
            if message.get("type") != "message":
                continue
            received = time.time()
            body = json.loads(message["data"])
            job_id = body["job"]
            with self._cond:
                self.done[job_id] = received
                self.results[job_id] = body.get("result")
                self._cond.notify_all()

    def enqueue(self, func: str = NOOP) -> tuple[str, float]:
        """Enqueue one job; its id and the instant just before the enqueue."""
        job_id = f"bare-{uuid.uuid4().hex}"
        started = time.time()
        self.queue.enqueue(func, job_id=job_id, on_success=Callback(ON_SUCCESS),
                           result_ttl=60)
        return job_id, started

    def wait(self, job_ids: list[str], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not all(j in self.done for j in job_ids):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"bare rq: {sum(j not in self.done for j in job_ids)} jobs unfinished")
                self._cond.wait(left)

    def round_trip(self, func: str = NOOP) -> float:
        """Milliseconds from just before the enqueue to the callback's message received."""
        job_id, started = self.enqueue(func)
        self.wait([job_id], 30)
        return (self.done[job_id] - started) * 1000

    def drain(self, jobs: int, func: str = NOOP) -> dict[str, Any]:
        """Enqueue ``jobs`` jobs as fast as one client can and wait for every callback:
        jobs a second from the first enqueue to the last message."""
        posted = [self.enqueue(func) for _ in range(jobs)]
        self.wait([job_id for job_id, _ in posted], 300)
        t0 = posted[0][1]
        last = max(self.done[job_id] for job_id, _ in posted)
        return {"jobs": jobs, "jobs_per_second": round(jobs / (last - t0), 1),
                "enqueue_seconds": round(posted[-1][1] - t0, 2)}

    def stop(self) -> None:
        for process in self.workers:
            process.stop()
        try:
            self._pubsub.close()
        except Exception:
            pass
