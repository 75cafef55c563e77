"""The bare RQ side's job and callback (``bench/bare_rq.py``): a module with nothing but
the standard library, since each plain ``rq worker``'s work horse imports it afresh."""
from __future__ import annotations

import json
import subprocess
import time
from typing import Any

CHANNEL = "bench-bare-rq-done"


def noop() -> dict[str, Any]:
    """A trivial job."""
    return {"ok": True}


def started_at() -> float:
    """When the job began, in the work horse (``schedule_lag.py``'s queue share)."""
    return time.time()


def shell_true() -> dict[str, Any]:
    """What Taskpulse's benchmark task runs (``sh -c true``), for a like-for-like job."""
    return {"exit_code": subprocess.run(["sh", "-c", "true"], check=False).returncode}


def on_success(job: Any, connection: Any, result: Any, *args: Any, **kwargs: Any) -> None:
    """RQ's success callback (in the work horse): publish the job's end to Redis."""
    connection.publish(CHANNEL, json.dumps({"job": job.id, "at": time.time(), "result": result}))
