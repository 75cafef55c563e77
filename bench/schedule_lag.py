"""Schedule lag on the real system: from a fire's due instant (the run's
``scheduled_for``) to the run's ``started_at`` in the work horse.

Starts a private redis-server, the Socket.IO server, ``--workers`` forking rq workers and
``--schedulers`` scheduler processes, creates ``--tasks`` interval tasks (a trivial shell
command, every 1 to 2 s, spread over the range) and lets them fire for ``--seconds``.
Times are read from the database to the microsecond (the API rounds to the second).

    .venv/bin/python -m bench.schedule_lag --tasks 10 --seconds 75

Prints the figures it measured (lag split into due -> queued, the scheduler's share, and
queued -> started, RQ's and the worker's); it never asserts a target.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.run_latency import percentile
from tests.e2e.scheduler_support import SchedulerSystem
from tests.support.processes import RedisServer


def summary(values: list[float]) -> dict[str, float]:
    """p50, p99, mean and max of ``values`` (milliseconds), rounded."""
    return {
        "p50": round(percentile(values, 50), 1),
        "p99": round(percentile(values, 99), 1),
        "mean": round(statistics.fmean(values), 1),
        "max": round(max(values), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=75)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--schedulers", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        redis_server = RedisServer(Path(tmp)).start()
        system = SchedulerSystem(Path(tmp), redis_server, workers=args.workers).start()
        try:
            for _ in range(args.schedulers):
                system.start_scheduler()
            system.wait_for_leader()
            # Periods spread over 1..2 s (in whole seconds, as the API takes them: 1 or 2).
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
        finally:
            system.stop()
            redis_server.stop()

    started = [r for r in runs if r["started_at"] is not None]
    due_to_started = [(r["started_at"] - r["scheduled_for"]).total_seconds() * 1000 for r in started]
    due_to_queued = [(r["queued_at"] - r["scheduled_for"]).total_seconds() * 1000 for r in runs]
    queued_to_started = [(r["started_at"] - r["queued_at"]).total_seconds() * 1000 for r in started]
    figures = {
        "tasks": args.tasks,
        "seconds": args.seconds,
        "workers": args.workers,
        "schedulers": args.schedulers,
        "fires": len(runs),
        "started": len(started),
        "statuses": {s: sum(r["status"] == s for r in runs) for s in sorted({r["status"] for r in runs})},
        "most_runs_for_one_fire": max(Counter((r["task_id"], r["scheduled_for"]) for r in runs).values()),
        "due_to_started_ms": summary(due_to_started),
        "due_to_queued_ms": summary(due_to_queued),
        "queued_to_started_ms": summary(queued_to_started),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
