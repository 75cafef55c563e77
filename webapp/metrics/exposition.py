"""``/metrics`` in Prometheus's text format: the families of design.md ("Metrics and
health") with their help texts, built from the database's figures, Redis and this
process's Socket.IO server, rendered once per ``METRICS_CACHE_SECONDS`` per process.

Counters come from the database (the source of truth: the run rollup, which the
transaction that ends a run adds to, and the alerts outbox), so they are right across
restarts, agree between several web processes and do not drop when retention deletes
runs. The per-process figures (the Socket.IO clients connected to this process, the
events it published) carry a ``process`` label."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator

from flask import current_app
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from redis.exceptions import RedisError

from webapp.core.extensions import socketio
from webapp.core.models import ACTIVE_STATUSES
from webapp.core.redis import redis_connection
from webapp.live import events
from webapp.metrics import queries, text
from webapp.metrics.queries import DURATION_BUCKETS, WAIT_BUCKETS, Figures
from webapp.runs import dispatch, pools
from webapp.scheduling import pause

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_CACHE_KEY = "taskpulse_metrics"
_lock = threading.Lock()


def process_label() -> str:
    """This process, as the ``process`` label names it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


# The database's families: (name, type, help, label names). Written by webapp.metrics.text.
RUNS = ("taskpulse_runs", "counter", "Runs that ended, by task, final status and trigger (runs "
        "under way are in taskpulse_runs_active).", ["task", "status", "trigger"])
DURATION = ("taskpulse_run_duration_seconds", "How long ended runs ran, started to finished.", ["task"])
QUEUE_WAIT = ("taskpulse_queue_wait_seconds", "How long runs waited from queued to started.", ["task"])
SCHEDULE_LAG = ("taskpulse_schedule_lag_seconds", "How late scheduled runs started after their fire time.", [])
LAST_SUCCESS = ("taskpulse_task_last_success_timestamp_seconds", "gauge",
                "When the task's last successful run finished (Unix time).", ["task"])
LAST_FAILURE = ("taskpulse_task_last_failure_timestamp_seconds", "gauge",
                "When the task's last failed run finished (Unix time).", ["task"])
INTERVAL = ("taskpulse_task_schedule_interval_seconds", "gauge",
            "Seconds between the next two fires of an enabled scheduled task.", ["task"])
ACTIVE = ("taskpulse_runs_active", "gauge", "Runs not yet ended, by status.", ["status"])
NOTIFICATIONS = ("taskpulse_notifications", "counter", "Alert messages whose delivery ended, by "
                 "channel and status (sent or failed; a summary counts once).", ["channel", "status"])


def database_text(fig: Figures) -> str:
    """The families derived from the database, in the text format."""
    def by_task(values: dict[str, float]) -> list[tuple[list[str], float]]:
        return [([task], v) for task, v in sorted(values.items())]

    lag = [([], fig.schedule_lag)] if fig.schedule_lag is not None else []
    return "".join([
        text.simple(*RUNS, [([t, s, trig], n) for t, s, trig, n in sorted(fig.runs)]),
        text.histogram(*DURATION, DURATION_BUCKETS, [([t], h) for t, h in sorted(fig.durations.items())]),
        text.histogram(*QUEUE_WAIT, WAIT_BUCKETS, [([t], h) for t, h in sorted(fig.queue_waits.items())]),
        text.histogram(*SCHEDULE_LAG, WAIT_BUCKETS, lag),
        text.simple(*LAST_SUCCESS, by_task(fig.last_success)),
        text.simple(*LAST_FAILURE, by_task(fig.last_failure)),
        text.simple(*INTERVAL, by_task(fig.intervals)),
        text.simple(*ACTIVE, [([status], fig.active.get(status, 0)) for status in ACTIVE_STATUSES]),
        text.simple(*NOTIFICATIONS, [([c, s], n) for c, s, n in sorted(fig.notifications)]),
    ])


def redis_families() -> list[Metric]:
    """Queue, workers and the scheduler leader, read from Redis (absent while it is away:
    a missing series is what the "no worker" and "no leader" rules also catch)."""
    names = sorted({current_app.config["RQ_QUEUE"], *pools.task_queues()})
    try:
        jobs = {name: dispatch.queue_length(name) for name in names}
        workers = dispatch.worker_count()
        leader = pause.scheduler_leader(redis_connection())
    except RedisError as exc:
        log.warning("metrics: Redis unavailable (%s)", exc)
        return []
    families: list[Metric] = []
    family = GaugeMetricFamily("taskpulse_queue_jobs", "Jobs waiting on each RQ queue of runs.", labels=["queue"])
    for name, waiting in jobs.items():
        family.add_metric([name], waiting)
    families.append(family)
    families.append(GaugeMetricFamily("taskpulse_workers", "RQ workers registered on Redis.", value=workers))
    families.append(GaugeMetricFamily("taskpulse_scheduler_leader",
                                      "1 while a scheduler holds the leader lock, else 0.",
                                      value=1 if leader else 0))
    return families


def process_families() -> list[Metric]:
    """Figures of this process alone, labelled with it."""
    clients = GaugeMetricFamily("taskpulse_socketio_clients", "Socket.IO connections open to "
                                "this web process.", labels=["process"])
    server = getattr(socketio, "server", None)
    eio = getattr(server, "eio", None)
    clients.add_metric([process_label()], len(getattr(eio, "sockets", {}) or {}))
    published = CounterMetricFamily("taskpulse_events_published", "Server events this process "
                                    "sent out (since it started).", labels=["process"])
    published.add_metric([process_label()], events.published_count())
    return [clients, published]


class _Snapshot:
    """A prometheus-client collector over families made before the render."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def render() -> bytes:
    """The whole exposition, now (no cache)."""
    body = database_text(queries.figures())
    families = [GaugeMetricFamily("taskpulse_scheduler_paused", "1 while the scheduler's "
                                  "global pause is on, else 0.", value=int(pause.scheduler_paused()))]
    families += redis_families() + process_families()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families))
    return body.encode("utf-8") + generate_latest(registry)


def cached_render() -> bytes:
    """:func:`render`, reused for ``METRICS_CACHE_SECONDS`` by this process (one set of
    queries however many scrapers ask)."""
    ttl = float(current_app.config.get("METRICS_CACHE_SECONDS", 5))
    ext = current_app.extensions.setdefault("taskpulse", {})
    with _lock:  # concurrent scrapes wait for one render instead of all querying
        cached = ext.get(_CACHE_KEY)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        body = render()
        ext[_CACHE_KEY] = (time.monotonic() + ttl, body)
        return body
