"""Schedule lag on the real system: from a fire's due instant (the run's
``scheduled_for``) to the run's ``started_at``, with ``--tasks`` tasks due at the same
instants on ``--workers`` workers; and bare RQ's queue in the same run.

Starts a private redis-server, the Socket.IO server, ``--workers`` forking rq workers and
``--schedulers`` scheduler processes, creates ``--tasks`` interval tasks (a trivial shell
command, every 1 or 2 s: all of them are due together on every even second) and lets
them fire for ``--seconds``. Times are read from the database to the microsecond (the
API rounds to the second). ``started_at`` is written by the worker as it takes the job
(just before its fork).

Then, on the same Redis, ``--workers`` plain ``rq worker``s (:mod:`bench.bare_rq`) get
``--tasks`` trivial jobs enqueued at the same instant, once a second for as many
rounds: enqueue instant -> the job's first line in its work horse, the same span as
Taskpulse's queue share (queued -> started).

    .venv/bin/python -m bench.schedule_lag --tasks 10 --seconds 75

Prints the lag split into due -> queued (the scheduler's share) and queued -> started
(the queue's share: Redis, the worker's dequeue, ``running`` recorded), bare RQ's queue
share, and the machine's load; it never asserts a target.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.bare_rq import STARTED_AT, BareRQ
from bench.common import database, emit_json, load, summary
from tests.e2e.scheduler_support import SchedulerSystem
from tests.support.processes import RedisServer


def bare_queue_share(bare: BareRQ, jobs: int, rounds: int) -> list[float]:
    """Milliseconds from the instant ``jobs`` jobs are enqueued together to each job's start."""
    lags = []
    for _ in range(rounds):
        posted = [bare.enqueue(STARTED_AT) for _ in range(jobs)]
        bare.wait([job_id for job_id, _ in posted], 30)
        due = posted[0][1]
        lags += [(bare.results[job_id] - due) * 1000 for job_id, _ in posted]
        time.sleep(max(0.0, 1 - (time.time() - due)))
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=75)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--schedulers", type=int, default=1)
    parser.add_argument("--database", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    load_before = load()
    with tempfile.TemporaryDirectory() as tmp, database(args.database) as url:
        redis_server = RedisServer(Path(tmp)).start()
        system = SchedulerSystem(Path(tmp), redis_server, database_url=url, workers=args.workers).start()
        try:
            for _ in range(args.schedulers):
                system.start_scheduler()
            system.wait_for_leader()
            tasks = [
                system.create_task(f"bench-{i}", "true", overlap="allow",
                                   schedule={"type": "interval", "seconds": 1 + i % 2})
                for i in range(args.tasks)
            ]
            time.sleep(args.seconds)
            for task in tasks:
                system.stack.api("PATCH", f"/tasks/{task['id']}", json={"enabled": False})
            time.sleep(3)  # let the last runs start
            runs = [r for task in tasks for r in system.runs(task["id"])]
            load_taskpulse = load()
            system.stop_schedulers()
            bare = BareRQ(redis_server.url, Path(tmp)).start(workers=args.workers)
            try:
                bare_lags = bare_queue_share(bare, args.tasks, max(10, int(args.seconds / 2)))
            finally:
                bare.stop()
        finally:
            system.stop()
            redis_server.stop()

    started = [r for r in runs if r["started_at"] is not None]
    due_to_started = [(r["started_at"] - r["scheduled_for"]).total_seconds() * 1000 for r in started]
    due_to_queued = [(r["queued_at"] - r["scheduled_for"]).total_seconds() * 1000 for r in runs]
    queued_to_started = [(r["started_at"] - r["queued_at"]).total_seconds() * 1000 for r in started]
    figures = {
        "database": args.database,
        "tasks": args.tasks,
        "seconds": args.seconds,
        "workers": args.workers,
        "schedulers": args.schedulers,
        "fires": len(runs),
        "started": len(started),
        "statuses": {s: sum(r["status"] == s for r in runs) for s in sorted({r["status"] for r in runs})},
        "most_runs_for_one_fire": max(Counter((r["task_id"], r["scheduled_for"]) for r in runs).values()),
        "due_to_started_ms": summary(due_to_started, 1),
        "due_to_queued_ms_scheduler_share": summary(due_to_queued, 1),
        "queued_to_started_ms_queue_share": summary(queued_to_started, 1),
        "bare_rq_enqueue_to_job_start_ms": summary(bare_lags, 1),
        "load_before": load_before,
        "load_after_taskpulse": load_taskpulse,
        "load_after": load(),
    }
    emit_json(figures, args.out)


if __name__ == "__main__":
    main()
