"""Run Now -> success latency on the real system, beside bare RQ in the same run.

Starts a private redis-server, the Socket.IO server (``ASYNC_MODE``, eventlet by
default) and one forking Taskpulse worker, plus one plain ``rq worker`` (RQ's own
forking worker, JSON serializer, an ``on_success`` callback that publishes to Redis) on
the same Redis (:mod:`bench.bare_rq`). Then, ``--runs`` times in turn: presses Run Now
on a trivial shell task (``true``) and waits for ``success`` at a python-socketio client
subscribed to room ``tasks``; enqueues a trivial bare job and waits for its callback's
message; enqueues a bare job that runs ``sh -c true`` (the same command) likewise.

    .venv/bin/python -m bench.run_latency --runs 100
    .venv/bin/python -m bench.run_latency --runs 100 --database postgres

Prints Taskpulse's figure, bare RQ's and their ratio, where Taskpulse's time goes
(phases from the events' own ``emitted_at`` stamps), and the machine's load; it never
asserts a target.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.bare_rq import NOOP, SHELL_TRUE, BareRQ
from bench.common import database, emit_json, load, percentile, running_system, summary
from tests.support.live_client import LiveClient

__all__ = ["percentile", "stamp", "main"]


def stamp(iso_text: str) -> float:
    """Seconds since the epoch of an ISO-8601 UTC instant."""
    return datetime.fromisoformat(iso_text.replace("Z", "+00:00")).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--async-mode", default="eventlet", choices=["eventlet", "threading"])
    parser.add_argument("--database", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    load_before = load()
    with tempfile.TemporaryDirectory() as tmp, database(args.database) as url, \
            running_system(Path(tmp), args.async_mode, workers=1, database_url=url) as stack:
        bare = BareRQ(stack.redis.url, Path(tmp)).start(workers=1)
        client = LiveClient(stack.base_url).connect()
        try:
            task = stack.create_task("bench-true", "true")
            # One warm-up run each side (the first job of a worker imports and connects).
            run = stack.api("POST", f"/tasks/{task['id']}/run").json()
            client.wait_status(run["run_id"], "success", timeout=30)
            bare.round_trip(SHELL_TRUE)
            taskpulse, bare_noop, bare_shell = [], [], []
            phases: dict[str, list[float]] = {"post_to_queued_emit": [], "queued_to_running_emit": [],
                                              "running_to_success_emit": [], "success_emit_to_client": [],
                                              "http_response_after_queued_emit": []}
            for _ in range(args.runs):
                started = time.time()
                response = stack.api("POST", f"/tasks/{task['id']}/run")
                answered = time.time()
                run = response.json()
                client.wait_status(run["run_id"], "success", timeout=30)
                final = next(e for e in client.run_events(run["run_id"]) if e["status"] == "success")
                taskpulse.append((final["_received"] - started) * 1000)
                at = {e["status"]: stamp(e["emitted_at"]) for e in client.run_events(run["run_id"])}
                phases["post_to_queued_emit"].append((at["queued"] - started) * 1000)
                phases["queued_to_running_emit"].append((at["running"] - at["queued"]) * 1000)
                phases["running_to_success_emit"].append((at["success"] - at["running"]) * 1000)
                phases["success_emit_to_client"].append((final["_received"] - at["success"]) * 1000)
                phases["http_response_after_queued_emit"].append((answered - at["queued"]) * 1000)
                bare_noop.append(bare.round_trip(NOOP))
                bare_shell.append(bare.round_trip(SHELL_TRUE))
            emit_to_client = [(e["_received"] - stamp(e["emitted_at"])) * 1000 for e in client.events
                              if not e["_replayed"]]
        finally:
            client.disconnect()
            bare.stop()

    tp, rq_p50 = percentile(taskpulse, 50), percentile(bare_noop, 50)
    figures = {
        "database": args.database,
        "async_mode": args.async_mode,
        "runs": args.runs,
        "load_before": load_before,
        "load_after": load(),
        "taskpulse_run_now_to_success_at_client_ms": summary(taskpulse, 1),
        "bare_rq_enqueue_to_callback_ms": summary(bare_noop, 1),
        "bare_rq_sh_true_enqueue_to_callback_ms": summary(bare_shell, 1),
        "ratio_p50_taskpulse_over_bare_rq": round(tp / rq_p50, 2),
        "ratio_p50_taskpulse_over_bare_rq_sh_true": round(tp / percentile(bare_shell, 50), 2),
        # Where Taskpulse's time goes (p50 of each phase, from the events' emitted_at
        # stamps): HTTP + commit; RQ pickup + fork + running; the job + recording
        # success; the last hop to the client.
        "phases_p50_ms": {name: round(percentile(values, 50), 1) for name, values in phases.items()},
        "emit_to_client_ms": summary(emit_to_client, 2),
    }
    emit_json(figures, args.out)


if __name__ == "__main__":
    main()
