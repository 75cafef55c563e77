"""Worker liveness: each Taskpulse worker refreshes a short-lived key in Redis on every
RQ heartbeat; a worker whose key has expired is gone (see :mod:`webapp.runs.lost_runs`)."""
from __future__ import annotations

from typing import Any

from redis import Redis

BEAT_SECONDS = 5       # how often a busy worker beats (its job monitoring interval)
LIVENESS_TTL = 20      # a worker silent this long is gone
# An idle worker beats every ``worker_ttl - 15`` s (RQ's dequeue timeout): Taskpulse's
# worker caps its ttl so that an idle worker beats every 20 s, and a worker whose last
# beat is older than SERVED_STALE_SECONDS no longer counts as serving its queues.
WORKER_TTL = 35
SERVED_STALE_SECONDS = WORKER_TTL - 15 + 10


def liveness_key(worker_name: str) -> str:
    """The Redis key a live worker keeps refreshing."""
    return f"taskpulse:worker:{worker_name}:alive"


def beat(connection: Any, worker_name: str, ttl: int = LIVENESS_TTL) -> None:
    """Refresh a worker's liveness key (``connection`` may be a pipeline)."""
    connection.set(liveness_key(worker_name), "1", ex=ttl)


def worker_alive(connection: Redis, worker_name: str) -> bool:
    """True while the worker's liveness key exists."""
    return bool(connection.exists(liveness_key(worker_name)))
