"""The run rollup behind ``/metrics``: per task, how many runs ended with each status and
trigger (``RunCount``) and the histograms of run duration, queue wait and schedule lag
(``RunHistogram``), so that a scrape reads a few small tables instead of every run.

The rollup is written by a flush hook of the ORM session, in the same transaction as
the run change it counts: a run's end is counted when its terminal status is flushed,
its queue wait and schedule lag when its first start is. So the counts commit or roll
back with the run (right across restarts and several processes, never twice), and any
way a run reaches a status through the ORM (``state.update_task_status``,
``state.record_skipped_run``, a test's fixture) is counted without having to remember
to. Retention deletes runs with a bulk ``DELETE`` and so never subtracts.

Writes are upserts (``INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n``), which
SQLite (3.24+) and PostgreSQL both run atomically; two processes ending runs of one task
wait for each other's row lock, never lose an addition. Lock order: a transaction takes
its run's row, then these rollup rows (sorted, at the flush), then the event log's
advisory lock (``live.events.record``); every transaction touches one run today, so no
two wait on each other in opposite orders. (One that changed several runs while holding
the advisory lock could deadlock with a worker; PostgreSQL would then abort one of them,
and ``update_task_status`` retries.)
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, event, func, insert, inspect, literal_column, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from webapp.core.models import TERMINAL_STATUSES, RunCount, RunHistogram, TaskRun
from webapp.core.timeutil import as_utc

# Bucket upper bounds in seconds. Runs last from a second to hours; a queue wait and a
# schedule lag are normally well under a second, and minutes when something is wrong.
DURATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
INF = "+Inf"
# Histogram name in RunHistogram.metric -> its bucket bounds.
METRICS: dict[str, tuple[float, ...]] = {
    "duration": DURATION_BUCKETS, "queue_wait": WAIT_BUCKETS, "schedule_lag": WAIT_BUCKETS,
}

CountKey = tuple[int, str, str]          # task_id, status, trigger
BucketKey = tuple[int, str, str]         # task_id, metric, le


def le_label(bound: float) -> str:
    """A bucket's ``le`` as stored and as Prometheus shows it (``"2.5"``, ``"+Inf"``)."""
    return INF if math.isinf(bound) else repr(float(bound))


def bucket_of(value: float, bounds: tuple[float, ...]) -> str:
    """The ``le`` of the smallest bucket that holds ``value``."""
    for bound in bounds:
        if value <= bound:
            return le_label(bound)
    return INF


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    start, end = as_utc(start), as_utc(end)
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def _history(state: Any, name: str) -> tuple[Any, Any, bool]:
    """(value before this flush, value now, whether it changed) of one attribute."""
    hist = state.attrs[name].history
    before = next((v for v in hist.deleted if v is not None), None)
    now = getattr(state.object, name)
    return before, now, bool(hist.added)


def observations(run: TaskRun, is_new: bool) -> tuple[dict[CountKey, tuple[int, float | None]],
                                                      dict[BucketKey, tuple[int, float]]]:
    """What flushing ``run`` adds to the rollup: ended runs, and histogram observations."""
    state = inspect(run)
    counts: dict[CountKey, tuple[int, float | None]] = {}
    buckets: dict[BucketKey, tuple[int, float]] = {}

    def observe(metric: str, value: float | None) -> None:
        if value is not None:
            key = (run.task_id, metric, bucket_of(value, METRICS[metric]))
            n, total = buckets.get(key, (0, 0.0))
            buckets[key] = (n + 1, total + value)

    old_status, status, moved = _history(state, "status")
    if (is_new or moved) and status in TERMINAL_STATUSES and (is_new or old_status not in TERMINAL_STATUSES):
        finished = as_utc(run.finished_at)
        counts[(run.task_id, status, run.trigger)] = (1, finished.timestamp() if finished else None)
        observe("duration", _seconds(run.started_at, run.finished_at))
    old_start, started, restarted = _history(state, "started_at")
    # A run's start is its first attempt's (state.py keeps it across retries): counted
    # once, when it is first set.
    if started is not None and old_start is None and (is_new or restarted):
        observe("queue_wait", _seconds(run.queued_at, started))
        if run.scheduled_for is not None:
            observe("schedule_lag", _seconds(run.scheduled_for, started))
    return counts, buckets


def _dialect_insert(connection: Connection):
    return pg_insert if connection.dialect.name == "postgresql" else sqlite_insert


def write(connection: Connection, counts: dict[CountKey, tuple[int, float | None]],
          buckets: dict[BucketKey, tuple[int, float]]) -> None:
    """Add ``counts`` and ``buckets`` to the rollup, in key order (two transactions
    that touch the same rows lock them in the same order: no deadlock)."""
    make = _dialect_insert(connection)
    table = RunCount.__table__
    for (task_id, status, trigger), (n, at) in sorted(counts.items()):
        stmt = make(table).values(task_id=task_id, status=status, trigger=trigger, runs=n, last_finished=at)
        new, old = stmt.excluded, table.c
        stmt = stmt.on_conflict_do_update(index_elements=["task_id", "status", "trigger"], set_={
            "runs": old.runs + new.runs,
            # The newest finish wins, whatever order runs end in (NULL never replaces one).
            "last_finished": case((new.last_finished.is_(None), old.last_finished),
                                  (old.last_finished.is_(None), new.last_finished),
                                  (new.last_finished > old.last_finished, new.last_finished),
                                  else_=old.last_finished),
        })
        connection.execute(stmt)
    table = RunHistogram.__table__
    for (task_id, metric, le), (n, total) in sorted(buckets.items()):
        stmt = make(table).values(task_id=task_id, metric=metric, le=le, observations=n, total=total)
        stmt = stmt.on_conflict_do_update(index_elements=["task_id", "metric", "le"], set_={
            "observations": table.c.observations + stmt.excluded.observations,
            "total": table.c.total + stmt.excluded.total,
        })
        connection.execute(stmt)


def _add_counts(into: dict[CountKey, tuple[int, float | None]],
                more: dict[CountKey, tuple[int, float | None]]) -> None:
    for key, (n, at) in more.items():
        had, last = into.get(key, (0, None))
        stamps = [s for s in (last, at) if s is not None]
        into[key] = (had + n, max(stamps) if stamps else None)


def _add_buckets(into: dict[BucketKey, tuple[int, float]], more: dict[BucketKey, tuple[int, float]]) -> None:
    for key, (n, total) in more.items():
        had, sum_ = into.get(key, (0, 0.0))
        into[key] = (had + n, sum_ + total)


@event.listens_for(Session, "after_flush")
def _roll_up(session: Session, _flush_context: Any) -> None:
    """Add what this flush did to runs to the rollup, in the flush's transaction."""
    counts: dict[CountKey, tuple[int, float | None]] = {}
    buckets: dict[BucketKey, tuple[int, float]] = {}
    for obj, is_new in _runs(session):
        more_counts, more_buckets = observations(obj, is_new)
        _add_counts(counts, more_counts)
        _add_buckets(buckets, more_buckets)
    if counts or buckets:
        write(session.connection(), counts, buckets)


def _runs(session: Session) -> Iterable[tuple[TaskRun, bool]]:
    for obj in session.new:
        if isinstance(obj, TaskRun):
            yield obj, True
    for obj in session.dirty:
        if isinstance(obj, TaskRun):
            yield obj, False


# Rebuilding from runs (the benchmark, after it fills runs with bulk SQL; tests, which
# compare it with what the hook wrote). Migration 0006 backfills with its own frozen copy.

def seconds_between(connection: Connection, start: Any, end: Any) -> ColumnElement:
    """``end - start`` in seconds, in the dialect of ``connection``."""
    if connection.dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    # SQLite keeps datetimes as ISO text; julianday reads it as fractions of a day,
    # rounded to the millisecond so that 10 s is 10 s and not 10.0000001 (a bucket bound).
    return func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3)


def _bucket_case(value: ColumnElement, bounds: tuple[float, ...]) -> ColumnElement:
    # Literal SQL, not bound parameters: the CASE is grouped on below.
    return case(*[(value <= literal_column(repr(float(b))), literal_column(f"'{le_label(b)}'"))
                  for b in bounds], else_=literal_column(f"'{INF}'"))


def rebuild(connection: Connection) -> None:
    """Replace the rollup with what the runs in the database add up to (runs already
    deleted by retention are then forgotten: for a fresh rollup only)."""
    c = TaskRun.__table__.c
    connection.execute(RunHistogram.__table__.delete())
    connection.execute(RunCount.__table__.delete())
    if connection.dialect.name == "postgresql":
        epoch = func.extract("epoch", func.max(c.finished_at))
    else:  # julianday of the Unix epoch is 2440587.5
        epoch = (func.julianday(func.max(c.finished_at)) - 2440587.5) * 86400.0
    connection.execute(insert(RunCount.__table__).from_select(
        ["task_id", "status", "trigger", "runs", "last_finished"],
        select(c.task_id, c.status, c.trigger, func.count(), epoch)
        .where(c.status.in_(TERMINAL_STATUSES)).group_by(c.task_id, c.status, c.trigger)))
    spans = {
        "duration": (c.started_at, c.finished_at, c.status.in_(TERMINAL_STATUSES)),
        "queue_wait": (c.queued_at, c.started_at, true()),
        "schedule_lag": (c.scheduled_for, c.started_at, true()),
    }
    for metric, (start, end, where) in spans.items():
        value = seconds_between(connection, start, end)
        observed = (select(c.task_id, _bucket_case(value, METRICS[metric]).label("le"), value.label("v"))
                    .where(where, start.is_not(None), end.is_not(None)).subquery())
        connection.execute(insert(RunHistogram.__table__).from_select(
            ["task_id", "metric", "le", "observations", "total"],
            select(observed.c.task_id, literal_column(f"'{metric}'"), observed.c.le, func.count(),
                   func.sum(observed.c.v)).group_by(observed.c.task_id, observed.c.le)))
