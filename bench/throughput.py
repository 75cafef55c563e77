"""Run throughput: how many runs a second two forking workers sustain, with every event
delivered to a Socket.IO client.

Starts the real system with ``--workers`` forking rq workers, creates ``--runs`` trivial
shell tasks (``true``), presses Run Now on all of them as fast as the API takes it, and
waits until a subscribed client has seen every run reach ``success``.

    .venv/bin/python -m bench.throughput --runs 300 --workers 2

Then, in the same run and on the same Redis, ``--workers`` plain ``rq worker``s (RQ's own
forking worker, JSON serializer, an ``on_success`` callback that publishes to Redis:
:mod:`bench.bare_rq`) drain as many trivial jobs, enqueued as fast as one client can.

    .venv/bin/python -m bench.throughput --runs 300 --workers 2 --database postgres

Prints runs/s (first POST -> last success seen), Run Now -> success latency under that
load, whether the client saw every event exactly once (by ``seq``), bare RQ's jobs a
second, the ratio, and the machine's load.
"""
from __future__ import annotations

import argparse
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.bare_rq import NOOP, SHELL_TRUE, BareRQ
from bench.common import database, emit_json, load, running_system, summary
from tests.support.live_client import LiveClient
from tests.support.processes import ADMIN


def main() -> None:
    parser = argparse.ArgumentParser(description="runs per second with every event delivered")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--async-mode", choices=["eventlet", "threading"], default="eventlet")
    parser.add_argument("--database", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    load_before = load()
    with tempfile.TemporaryDirectory() as tmp, database(args.database) as url, \
            running_system(Path(tmp), args.async_mode, args.workers, database_url=url) as stack:
        client = LiveClient(stack.base_url).connect()
        task_ids = [stack.create_task(f"bench-{i}", "true")["id"] for i in range(args.runs)]
        posted: dict[int, float] = {}
        sessions = threading.local()  # one kept-alive HTTP connection per posting thread

        def run_now(task_id: int) -> None:
            http = getattr(sessions, "http", None)
            if http is None:
                http = sessions.http = requests.Session()
                http.auth = ADMIN
            started = time.time()
            response = http.post(f"{stack.base_url}/api/tasks/{task_id}/run", timeout=30)
            assert response.status_code == 202, response.text
            posted[response.json()["run_id"]] = started

        t0 = time.time()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(run_now, task_ids))
        post_seconds = time.time() - t0
        client.wait_for(lambda c: sum(e["status"] == "success" for e in c.events) >= args.runs,
                        300, "every run to succeed")
        successes = {e["run_id"]: e["_received"] for e in client.events if e["status"] == "success"}
        elapsed = max(successes.values()) - t0
        seqs = [e["seq"] for e in client.events]
        client.disconnect()
        load_taskpulse = load()
        bare = BareRQ(stack.redis.url, Path(tmp)).start(workers=args.workers)
        try:
            bare_noop = bare.drain(args.runs, NOOP)
            bare_shell = bare.drain(args.runs, SHELL_TRUE)
        finally:
            bare.stop()
        runs_per_second = args.runs / elapsed
        figures = {
            "database": args.database,
            "async_mode": args.async_mode,
            "workers": args.workers,
            "runs": args.runs,
            "post_seconds": round(post_seconds, 2),
            "runs_per_second": round(runs_per_second, 1),
            "run_now_to_success_ms_under_load": summary(
                [(successes[r] - posted[r]) * 1000 for r in successes], 1),
            "events_received": len(seqs),
            "events_expected": 3 * args.runs,
            "duplicates": len(seqs) - len(set(seqs)),
            "gaps": (max(seqs) - min(seqs) + 1) - len(set(seqs)),
            "bare_rq": bare_noop,
            "bare_rq_sh_true": bare_shell,
            "ratio_taskpulse_over_bare_rq": round(runs_per_second / bare_noop["jobs_per_second"], 2),
            "load_before": load_before,
            "load_after_taskpulse": load_taskpulse,
            "load_after": load(),
        }
    emit_json(figures, args.out)


if __name__ == "__main__":
    main()
