"""Run Now -> success latency and emit -> client latency on the real system.

Starts a private redis-server, the Socket.IO server (``ASYNC_MODE``, eventlet by
default) and one forking rq worker, then presses Run Now on a trivial shell task
``--runs`` times in a row, with a python-socketio client subscribed to room ``tasks``.

    .venv/bin/python -m bench.run_latency --runs 100

Prints the figures it measured; it never asserts a target.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

from tests.support.live_client import LiveClient
from tests.support.processes import RedisServer, Stack


def percentile(values: list[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def stamp(iso_text: str) -> float:
    """Seconds since the epoch of an ISO-8601 UTC instant."""
    return datetime.fromisoformat(iso_text.replace("Z", "+00:00")).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--async-mode", default="eventlet", choices=["eventlet", "threading"])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        redis_server = RedisServer(Path(tmp)).start()
        stack = Stack(redis_server, Path(tmp), async_mode=args.async_mode).start()
        client = LiveClient(stack.base_url).connect()
        try:
            task = stack.create_task("bench-true", "true")
            run_now_to_success, emit_to_client = [], []
            phases: dict[str, list[float]] = {"post_to_queued_emit": [], "queued_to_running_emit": [],
                                              "running_to_success_emit": [], "success_emit_to_client": []}
            for _ in range(args.runs):
                started = time.time()
                run = stack.api("POST", f"/tasks/{task['id']}/run").json()
                client.wait_status(run["run_id"], "success", timeout=30)
                final = next(e for e in client.run_events(run["run_id"]) if e["status"] == "success")
                run_now_to_success.append((final["_received"] - started) * 1000)
                at = {e["status"]: stamp(e["emitted_at"]) for e in client.run_events(run["run_id"])}
                phases["post_to_queued_emit"].append((at["queued"] - started) * 1000)
                phases["queued_to_running_emit"].append((at["running"] - at["queued"]) * 1000)
                phases["running_to_success_emit"].append((at["success"] - at["running"]) * 1000)
                phases["success_emit_to_client"].append((final["_received"] - at["success"]) * 1000)
            for event in client.events:
                emitted = datetime.fromisoformat(event["emitted_at"].replace("Z", "+00:00")).timestamp()
                emit_to_client.append((event["_received"] - emitted) * 1000)
        finally:
            client.disconnect()
            stack.stop()
            redis_server.stop()

    figures = {
        "async_mode": args.async_mode,
        "runs": args.runs,
        "run_now_to_success_ms": {
            "p50": round(percentile(run_now_to_success, 50), 1),
            "p99": round(percentile(run_now_to_success, 99), 1),
            "mean": round(statistics.fmean(run_now_to_success), 1),
        },
        # Where the time goes (p50 of each phase, from the events' emitted_at stamps):
        # HTTP + commit; RQ pickup + fork + running hook; the job + recording success;
        # the last hop to the client.
        "phases_p50_ms": {name: round(percentile(values, 50), 1) for name, values in phases.items()},
        "emit_to_client_ms": {
            "events": len(emit_to_client),
            "p50": round(percentile(emit_to_client, 50), 2),
            "p99": round(percentile(emit_to_client, 99), 2),
        },
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
