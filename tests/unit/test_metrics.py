"""/metrics, /readyz and /healthz on the Flask app: the figures a scraper reads, derived
from the runs in the database; who may read them; what the probes answer."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client.parser import text_string_to_metric_families

from webapp.core.extensions import db
from webapp.core.models import Task, TaskRun

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of an exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def run(task: Task, status: str, trigger: str = "manual", *, wait: float = 0.2,
        took: float | None = 3.0, lag: float | None = None, at: datetime = T0) -> TaskRun:
    started = at + timedelta(seconds=wait) if took is not None or status == "running" else None
    finished = started + timedelta(seconds=took) if started and took is not None and status != "running" else None
    return TaskRun(task=task, status=status, trigger=trigger, queued_at=at, started_at=started,
                   finished_at=finished,
                   scheduled_for=at - timedelta(seconds=lag) + timedelta(seconds=wait) if lag is not None else None)


@pytest.fixture
def token(app):
    from webapp.access import users

    with app.app_context():
        users.create_user("scraper", "viewer", "scraper-password-123")
        return users.issue_token("scraper", "prometheus")


@pytest.fixture
def history(app):
    """Two tasks: nightly (3 successes, one scheduled and 10 s late; 1 failure) and
    backup (1 running, 1 queued)."""
    with app.app_context():
        nightly = Task(name="nightly", kind="shell", config={"command": "true"})
        backup = Task(name='back"up\\', kind="shell", config={"command": "true"})
        db.session.add_all([nightly, backup])
        db.session.add_all([
            run(nightly, "success", took=1.0),
            run(nightly, "success", took=20.0, at=T0 + timedelta(hours=1)),
            run(nightly, "success", "schedule", took=4000.0, lag=10.0, at=T0 + timedelta(hours=2)),
            run(nightly, "failed", took=0.1, at=T0 + timedelta(hours=3)),
            run(backup, "running", took=None),
            run(backup, "queued", took=None),
        ])
        db.session.commit()


def scrape(app, token: str | None = None):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get("/metrics", headers=headers)


def test_metrics_count_runs_by_task_status_and_trigger(app, history, token):
    response = scrape(app, token)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    got = samples(response.get_data(as_text=True))
    runs = {k: v for k, v in got.items() if k[0] == "taskpulse_runs_total"}
    assert runs == {
        ("taskpulse_runs_total", (("status", "success"), ("task", "nightly"), ("trigger", "manual"))): 2,
        ("taskpulse_runs_total", (("status", "success"), ("task", "nightly"), ("trigger", "schedule"))): 1,
        ("taskpulse_runs_total", (("status", "failed"), ("task", "nightly"), ("trigger", "manual"))): 1,
    }
    # Runs under way are counted when they end (a counter never goes down, and a queued
    # run's "queued" series would): until then they are in taskpulse_runs_active.
    assert got[("taskpulse_runs_active", (("status", "running"),))] == 1
    assert got[("taskpulse_runs_active", (("status", "queued"),))] == 1


def test_histograms_come_from_the_run_timestamps(app, history, token):
    got = samples(scrape(app, token).get_data(as_text=True))
    nightly = (("task", "nightly"),)
    assert got[("taskpulse_run_duration_seconds_count", nightly)] == 4
    assert got[("taskpulse_run_duration_seconds_sum", nightly)] == pytest.approx(4021.1, abs=0.01)
    assert got[("taskpulse_run_duration_seconds_bucket", (("le", "1.0"),) + nightly)] == 2
    assert got[("taskpulse_run_duration_seconds_bucket", (("le", "30.0"),) + nightly)] == 3
    assert got[("taskpulse_run_duration_seconds_bucket", (("le", "+Inf"),) + nightly)] == 4
    # Queue wait: every started run, the running one included.
    assert got[("taskpulse_queue_wait_seconds_count", (("task", 'back"up\\'),))] == 1
    assert got[("taskpulse_queue_wait_seconds_sum", nightly)] == pytest.approx(0.8, abs=0.01)
    assert got[("taskpulse_schedule_lag_seconds_count", ())] == 1
    assert got[("taskpulse_schedule_lag_seconds_sum", ())] == pytest.approx(10.0, abs=0.01)
    assert got[("taskpulse_schedule_lag_seconds_bucket", (("le", "5.0"),))] == 0
    assert got[("taskpulse_schedule_lag_seconds_bucket", (("le", "10.0"),))] == 1


def test_last_success_and_failure_timestamps(app, history, token):
    got = samples(scrape(app, token).get_data(as_text=True))
    nightly = (("task", "nightly"),)
    last_ok = T0 + timedelta(hours=2, seconds=0.2 + 4000)
    assert got[("taskpulse_task_last_success_timestamp_seconds", nightly)] == pytest.approx(last_ok.timestamp())
    last_bad = T0 + timedelta(hours=3, seconds=0.3)
    assert got[("taskpulse_task_last_failure_timestamp_seconds", nightly)] == pytest.approx(last_bad.timestamp())


def test_every_metric_of_the_design_has_a_help_text(app, history, token):
    families = {f.name: f for f in text_string_to_metric_families(scrape(app, token).get_data(as_text=True))}
    named = ["taskpulse_runs", "taskpulse_run_duration_seconds", "taskpulse_queue_wait_seconds",
             "taskpulse_schedule_lag_seconds", "taskpulse_task_last_success_timestamp_seconds",
             "taskpulse_task_last_failure_timestamp_seconds", "taskpulse_runs_active",
             "taskpulse_queue_jobs", "taskpulse_workers", "taskpulse_scheduler_leader",
             "taskpulse_scheduler_paused", "taskpulse_socketio_clients", "taskpulse_notifications"]
    assert {name: bool(families[name].documentation) for name in named if name in families} == \
        dict.fromkeys(named, True)


def test_socketio_clients_name_the_process(app, token):
    got = samples(scrape(app, token).get_data(as_text=True))
    [labels] = [k[1] for k in got if k[0] == "taskpulse_socketio_clients"]
    assert dict(labels)["process"].endswith(f":{__import__('os').getpid()}")


def test_a_scrape_within_the_cache_time_is_the_cached_one(app, history, token):
    first = scrape(app, token).get_data(as_text=True)
    with app.app_context():
        db.session.add(run(db.session.get(Task, 1), "success"))
        db.session.commit()
    assert scrape(app, token).get_data(as_text=True) == first
    app.config["METRICS_CACHE_SECONDS"] = 0
    app.extensions["taskpulse"].pop("taskpulse_metrics", None)
    got = samples(scrape(app, token).get_data(as_text=True))
    assert got[("taskpulse_runs_total", (("status", "success"), ("task", "nightly"), ("trigger", "manual")))] == 3


@pytest.mark.parametrize("header", [None, "Bearer not-a-token", "Bearer ", "Basic !!!", "Token x"])
def test_metrics_without_a_valid_token_is_401_json(app, history, header):
    client = app.test_client()
    response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] in ("unauthorized", "rate_limited")
    assert "taskpulse_runs_total" not in response.get_data(as_text=True)


def test_metrics_are_open_when_public_is_set(app, history):
    app.config["METRICS_PUBLIC"] = True
    assert "taskpulse_runs_total" in app.test_client().get("/metrics").get_data(as_text=True)


def test_healthz_is_200_whatever_redis_does(app):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    app.extensions.get("taskpulse", {}).pop("redis", None)
    response = app.test_client().get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"ok": True})


def test_readyz_names_the_failing_checks(app, token):
    # The unit app has Redis but no worker and no scheduler.
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "fail" and body["failing"] == ["scheduler", "workers"]
    assert body["checks"] == {"database": "ok", "redis": "ok", "workers": "fail", "scheduler": "fail"}
    signed_in = app.test_client().get("/readyz", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert signed_in["checks"]["workers"] == "no rq worker is registered"


def test_readyz_says_redis_when_redis_is_away(app):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    app.extensions.get("taskpulse", {}).pop("redis", None)
    body = app.test_client().get("/readyz").get_json()
    assert body["checks"]["redis"] == "fail" and body["checks"]["database"] == "ok"
