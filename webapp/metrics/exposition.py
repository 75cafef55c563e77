"""``/metrics`` in Prometheus's text format: the families of design.md ("Metrics and
health") with their help texts, built from the database's figures, Redis and this
process's Socket.IO server, rendered once per ``METRICS_CACHE_SECONDS`` per process.

Counters come from the database (the source of truth), so they are right across
restarts and agree between several web processes. The one per-process figure, the
Socket.IO clients connected to this process, carries a ``process`` label."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator

from flask import current_app
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from redis.exceptions import RedisError

from webapp.core.extensions import socketio
from webapp.core.models import ACTIVE_STATUSES
from webapp.core.redis import redis_connection
from webapp.metrics import queries
from webapp.metrics.queries import DURATION_BUCKETS, WAIT_BUCKETS, Figures, Histogram
from webapp.runs import dispatch
from webapp.scheduling import pause

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_CACHE_KEY = "taskpulse_metrics"
_lock = threading.Lock()


def process_label() -> str:
    """This process, as the ``process`` label names it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _histogram(name: str, doc: str, labels: list[str], bounds: tuple[float, ...],
               series: dict[tuple[str, ...], Histogram]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=labels)
    for values, h in sorted(series.items()):
        buckets = [(repr(float(b)), n) for b, n in zip(bounds, h.buckets)] + [("+Inf", h.count)]
        family.add_metric(list(values), buckets, h.total)
    return family


def database_families(fig: Figures) -> list[Metric]:
    """The families derived from the database."""
    runs = CounterMetricFamily("taskpulse_runs", "Runs ever recorded (still in the database), "
                               "by task, status and trigger.", labels=["task", "status", "trigger"])
    for task, status, trigger, n in sorted(fig.runs):
        runs.add_metric([task, status, trigger], n)
    last_ok = GaugeMetricFamily("taskpulse_task_last_success_timestamp_seconds",
                                "When the task's last successful run finished (Unix time).", labels=["task"])
    for task, at in sorted(fig.last_success.items()):
        last_ok.add_metric([task], at)
    last_bad = GaugeMetricFamily("taskpulse_task_last_failure_timestamp_seconds",
                                 "When the task's last failed run finished (Unix time).", labels=["task"])
    for task, at in sorted(fig.last_failure.items()):
        last_bad.add_metric([task], at)
    interval = GaugeMetricFamily("taskpulse_task_schedule_interval_seconds", "Seconds between "
                                 "the next two fires of an enabled scheduled task.", labels=["task"])
    for task, seconds in sorted(fig.intervals.items()):
        interval.add_metric([task], seconds)
    active = GaugeMetricFamily("taskpulse_runs_active", "Runs not yet ended, by status.", labels=["status"])
    for status in ACTIVE_STATUSES:
        active.add_metric([status], fig.active.get(status, 0))
    lag = {(): fig.schedule_lag} if fig.schedule_lag is not None else {}
    return [
        runs,
        _histogram("taskpulse_run_duration_seconds", "How long ended runs ran, started to finished.",
                   ["task"], DURATION_BUCKETS, {(t,): h for t, h in fig.durations.items()}),
        _histogram("taskpulse_queue_wait_seconds", "How long runs waited from queued to started.",
                   ["task"], WAIT_BUCKETS, {(t,): h for t, h in fig.queue_waits.items()}),
        _histogram("taskpulse_schedule_lag_seconds", "How late scheduled runs started after their "
                   "fire time.", [], WAIT_BUCKETS, lag),
        last_ok, last_bad, interval, active,
        # Filled by the alerts outbox (webapp/alerts) once it lands; declared so that
        # dashboards and rules can name it today.
        CounterMetricFamily("taskpulse_notifications", "Alert notifications sent, by channel and "
                            "status.", labels=["channel", "status"]),
    ]


def redis_families() -> list[Metric]:
    """Queue, workers and the scheduler leader, read from Redis (absent while it is away:
    a missing series is what the "no worker" and "no leader" rules also catch)."""
    queue = current_app.config["RQ_QUEUE"]
    try:
        jobs, workers = dispatch.queue_length(), dispatch.worker_count()
        leader = pause.scheduler_leader(redis_connection())
    except RedisError as exc:
        log.warning("metrics: Redis unavailable (%s)", exc)
        return []
    families: list[Metric] = []
    family = GaugeMetricFamily("taskpulse_queue_jobs", "Jobs waiting on the RQ queue.", labels=["queue"])
    family.add_metric([queue], jobs)
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
    return [clients]


class _Snapshot:
    """A prometheus-client collector over families made before the render."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def render() -> bytes:
    """The whole exposition, now (no cache)."""
    families = database_families(queries.figures())
    families.append(GaugeMetricFamily("taskpulse_scheduler_paused", "1 while the scheduler's "
                                      "global pause is on, else 0.", value=int(pause.scheduler_paused())))
    families += redis_families() + process_families()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families))
    return generate_latest(registry)


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
