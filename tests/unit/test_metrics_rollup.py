"""The run rollup behind /metrics (webapp.runs.rollup): written in the transaction that
ends or starts a run, it agrees with a GROUP BY over the runs, keeps counting when
retention deletes runs, and is what a scrape reports. Also: the notifications counter
from the outbox, the per-process events counter, and the text writer against
prometheus-client's own rendering."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from webapp.core.extensions import db
from webapp.core.models import Notification, RunCount, RunHistogram, Task, TaskRun
from webapp.live import events
from webapp.metrics import exposition, text
from webapp.metrics.queries import Figures, Histogram
from webapp.runs import retention, rollup
from webapp.runs.state import open_run, record_skipped_run, update_task_status


def samples(body: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def scrape(app) -> dict[tuple[str, tuple], float]:
    app.config["METRICS_PUBLIC"] = True
    app.config["METRICS_CACHE_SECONDS"] = 0
    return samples(app.test_client().get("/metrics").get_data(as_text=True))


def runs_total(got: dict) -> dict[tuple[str, str, str], float]:
    return {(dict(k[1])["task"], dict(k[1])["status"], dict(k[1])["trigger"]): v
            for k, v in got.items() if k[0] == "taskpulse_runs_total"}


def queued(task_id: int, trigger: str = "manual", scheduled_for: datetime | None = None) -> int:
    run, _ = open_run(db.session.get(Task, task_id), trigger, scheduled_for=scheduled_for)
    db.session.commit()
    return run.id


def ran(run_id: int, status: str) -> None:
    update_task_status(run_id, "running")
    update_task_status(run_id, status)


def a_mix_of_runs(task_ids: list[int]) -> None:
    """Runs through the real state machine: every end, retries, progress reports, late
    and duplicate reports, a skipped fire, and runs still under way."""
    a, b = task_ids
    for status in ("success", "success", "failed", "stopped"):
        run_id = queued(a)
        update_task_status(run_id, "running")
        update_task_status(run_id, "running", progress=50)  # a progress report
        update_task_status(run_id, status, error=None if status == "success" else "boom")
        update_task_status(run_id, status)            # a duplicate report: ignored
        update_task_status(run_id, "running")         # a late one: ignored
    retried = queued(b, "schedule", scheduled_for=datetime.now(timezone.utc) - timedelta(seconds=3))
    update_task_status(retried, "running")
    update_task_status(retried, "retrying", next_attempt_at=datetime.now(timezone.utc))
    update_task_status(retried, "running")                # second attempt: same start
    update_task_status(retried, "success")
    update_task_status(queued(b), "canceled")             # never started
    never = queued(b)
    update_task_status(never, "failed", error="no worker")  # ended without a start
    record_skipped_run(db.session.get(Task, b), "schedule", "a run is still active",
                       scheduled_for=datetime(2026, 1, 1, tzinfo=timezone.utc))
    db.session.commit()
    update_task_status(queued(a), "running")              # still running
    queued(b)                                              # still queued


def rollup_rows() -> tuple[dict, dict]:
    counts = {(r.task_id, r.status, r.trigger): (r.runs, r.last_finished)
              for r in db.session.execute(select(RunCount)).scalars()}
    buckets = {(r.task_id, r.metric, r.le): (r.observations, r.total)
               for r in db.session.execute(select(RunHistogram)).scalars()}
    db.session.rollback()
    return counts, buckets


def test_the_rollup_agrees_with_a_group_by_over_the_runs(app, make_task):
    ids = [make_task(), make_task()]
    with app.app_context():
        a_mix_of_runs(ids)
        counts, buckets = rollup_rows()
        # What the runs themselves add up to, computed from them in SQL.
        with db.engine.begin() as conn:
            rollup.rebuild(conn)
        want_counts, want_buckets = rollup_rows()
    assert {k: v[0] for k, v in counts.items()} == {k: v[0] for k, v in want_counts.items()}
    assert {k: v[1] for k, v in counts.items()} == pytest.approx({k: v[1] for k, v in want_counts.items()},
                                                                 abs=0.002)
    assert {k: v[0] for k, v in buckets.items()} == {k: v[0] for k, v in want_buckets.items()}
    assert {k: v[1] for k, v in buckets.items()} == pytest.approx({k: v[1] for k, v in want_buckets.items()},
                                                                  abs=0.01)
    # The mix, spelled out: every end once, nothing under way, the retried run's wait once.
    a, b = ids
    assert {k: v[0] for k, v in counts.items()} == {
        (a, "success", "manual"): 2, (a, "failed", "manual"): 1, (a, "stopped", "manual"): 1,
        (b, "success", "schedule"): 1, (b, "canceled", "manual"): 1, (b, "failed", "manual"): 1,
        (b, "skipped", "schedule"): 1}
    waits = {k: n for k, (n, _) in buckets.items() if k[1] == "queue_wait"}
    assert sum(n for (t, _, _), n in waits.items() if t == a) == 5  # 4 ended + 1 running
    assert sum(n for (t, _, _), n in waits.items() if t == b) == 1  # the retried one, once
    [(lag_le, (lag_n, lag_total))] = [(k[2], v) for k, v in buckets.items() if k[1] == "schedule_lag"]
    assert lag_n == 1 and lag_total == pytest.approx(3.0, abs=1.0) and lag_le == "5.0"


def test_counters_stay_right_after_retention_deletes_runs(app, make_task):
    ids = [make_task(), make_task()]
    with app.app_context():
        a_mix_of_runs(ids)
    before = scrape(app)
    with app.app_context():
        ended = db.session.execute(select(db.func.count()).select_from(TaskRun)
                                   .where(TaskRun.finished_at.is_not(None))).scalar()
        db.session.rollback()
        result = retention.prune(now=datetime.now(timezone.utc) + timedelta(days=365), days=1)
        left = db.session.execute(select(db.func.count()).select_from(TaskRun)).scalar()
        db.session.rollback()
    assert result.runs >= ended - 2  # each task's newest run is kept
    assert left <= 4
    after = scrape(app)
    assert runs_total(after) == runs_total(before) and sum(runs_total(after).values()) == 8
    for family in ("taskpulse_run_duration_seconds", "taskpulse_queue_wait_seconds",
                   "taskpulse_schedule_lag_seconds", "taskpulse_task_last_success_timestamp_seconds",
                   "taskpulse_task_last_failure_timestamp_seconds"):
        mine = {k: v for k, v in before.items() if k[0].startswith(family)}
        assert mine and {k: after.get(k) for k in mine} == mine, family
    # New runs still add to what retention left.
    with app.app_context():
        ran(queued(ids[0]), "success")
    task_a = next(t for t, s, _ in runs_total(after) if s == "stopped")
    assert runs_total(scrape(app))[(task_a, "success", "manual")] == 3


def test_a_scrape_reports_the_rollup_not_the_runs_table(app, make_task):
    """Rows written straight to the rollup show; runs deleted behind its back do not
    change it (the scrape never counts runs)."""
    task_id = make_task(name="nightly")
    with app.app_context():
        ran(queued(task_id), "success")
        db.session.execute(db.delete(TaskRun))
        db.session.commit()
    got = scrape(app)
    assert runs_total(got) == {("nightly", "success", "manual"): 1}
    assert got[("taskpulse_queue_wait_seconds_count", (("task", "nightly"),))] == 1


def test_notifications_total_counts_ended_deliveries_from_the_outbox(app):
    with app.app_context():
        rows = [("ops", "sent", False)] * 3 + [("ops", "failed", False), ("ops", "pending", False),
                                               ("pager", "sent", False), ("pager", "sent", True)]
        db.session.add_all([Notification(channel=c, kind="failure", title="t", status=s, held=h)
                            for c, s, h in rows])
        db.session.commit()
    got = {dict(k[1])["channel"] + "/" + dict(k[1])["status"]: v for k, v in scrape(app).items()
           if k[0] == "taskpulse_notifications_total"}
    # Pending is not counted yet; a held row went out inside a summary, counted once there.
    assert got == {"ops/sent": 3, "ops/failed": 1, "pager/sent": 1}


def test_events_published_are_counted_per_process(app, make_task):
    label = (("process", exposition.process_label()),)
    first = scrape(app)[("taskpulse_events_published_total", label)]
    with app.app_context():
        run_id = queued(make_task())
        update_task_status(run_id, "running")  # publishes one task_update
    # At least that one (other threads of this test process may publish too).
    assert scrape(app)[("taskpulse_events_published_total", label)] >= first + 1
    assert events.published_count() >= first + 1


def test_the_text_writer_makes_what_prometheus_client_makes():
    """Byte for byte, including label values that need escaping and large numbers."""
    odd = 'back"up\\\nnight'
    h = Histogram([1, 2, 2, 3], 4, 12345678.5)
    bounds = (0.5, 1, 2.5, 7200)
    fig = Figures(runs=[(odd, "success", "manual", 1234567), ("b", "failed", "schedule", 2)])

    mine = (text.simple(*exposition.RUNS, [([t, s, g], n) for t, s, g, n in fig.runs])
            + text.histogram("h_seconds", "A help\\text\nwith lines.", ["task"], bounds, [([odd], h), (["b"], h)])
            + text.histogram("lag_seconds", "Lag.", [], bounds, [([], h)])
            + text.simple("g", "gauge", "G.", ["task"], [([odd], 1.7e9), (["b"], 0.1)]))

    runs = CounterMetricFamily(*exposition.RUNS[:1], exposition.RUNS[2], labels=exposition.RUNS[3])
    for t, s, g, n in fig.runs:
        runs.add_metric([t, s, g], n)
    hist = HistogramMetricFamily("h_seconds", "A help\\text\nwith lines.", labels=["task"])
    lag = HistogramMetricFamily("lag_seconds", "Lag.", labels=[])
    for family, labels in ((hist, [odd]), (hist, ["b"]), (lag, [])):
        family.add_metric(labels, [(repr(float(b)), n) for b, n in zip(bounds, h.buckets)] + [("+Inf", h.count)],
                          h.total)
    gauge = GaugeMetricFamily("g", "G.", labels=["task"])
    gauge.add_metric([odd], 1.7e9)
    gauge.add_metric(["b"], 0.1)

    class Fixed:
        def collect(self):
            yield from (runs, hist, lag, gauge)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed())
    assert mine.encode() == generate_latest(registry)
