"""The watchdog's decisions (webapp.alerts.watch and watchdog.tick) on a real SQLite
database and the private Redis: late, overrun, the failing badge, once per gap."""
from __future__ import annotations

from datetime import timedelta

from webapp.alerts import channels, outbox, watch, watchdog
from webapp.core.extensions import db
from webapp.core.models import Notification, Task, TaskRun
from webapp.core.timeutil import utcnow
from webapp.runs import dispatch
from webapp.runs.state import update_task_status
from webapp.scheduling import pause
from webapp.tasks import store

URL = "json://hooks.example.com/secret-path"


def _task(name: str, **notify) -> Task:
    channels.create_channel({"name": f"ch-{name}", "url": URL})
    return store.create_task({"name": name, "kind": "shell", "config": {"command": "true"},
                              "schedule": {"type": "interval", "seconds": 60},
                              "notify": {"channels": [f"ch-{name}"], **notify}})


def test_p95_is_the_nearest_rank():
    assert watch.p95([1.0]) == 1.0
    assert watch.p95([float(n) for n in range(1, 21)]) == 19.0
    assert watch.p95([5.0, 1.0, 3.0]) == 5.0


def test_a_task_past_its_due_time_and_grace_is_late_once_per_gap(app):
    with app.app_context():
        task = _task("nightly", on=["late"], late_after=30)
        now = utcnow()
        task.next_run_at = now - timedelta(seconds=10)
        db.session.commit()
        assert watch.late(db.session.get(Task, task.id), now, paused=False) is None, "still in its grace time"
        task = db.session.get(Task, task.id)
        task.next_run_at = now - timedelta(seconds=31)
        db.session.commit()
        assert watchdog.tick({}) == {task.id: "late"}
        assert watchdog.tick({}) == {task.id: "late"}
        rows = db.session.query(Notification).filter_by(kind="late").all()
        assert [(r.title, r.task_id) for r in rows] == [("Taskpulse: nightly is late", task.id)]
        assert "Due: " in rows[0].body and "/tasks/" in rows[0].body


def test_nothing_is_late_while_the_scheduler_is_paused_or_the_task_disabled(app):
    with app.app_context():
        task = _task("paused", on=["late"], late_after=0)
        task.next_run_at = utcnow() - timedelta(minutes=5)
        db.session.commit()
        pause.pause_scheduler("admin")
        assert watchdog.tick({}) == {}
        pause.resume_scheduler("admin")
        store.update_task(task.id, {"enabled": False})
        assert watchdog.tick({}) == {}
        assert db.session.query(Notification).count() == 0


def test_a_scheduled_run_still_queued_past_the_grace_time_is_late(app):
    with app.app_context():
        task = _task("backlogged", on=["late"], late_after=5)
        run_id = dispatch.dispatch(task.id, trigger="schedule")["run_id"]
        run = db.session.get(TaskRun, run_id)
        run.queued_at = utcnow() - timedelta(seconds=6)
        db.session.commit()
        found = watch.late(db.session.get(Task, task.id), utcnow(), paused=False)
        assert found is not None and found.since_start is None


def test_overrun_needs_ten_successes_or_a_max_runtime(app):
    with app.app_context():
        task = _task("scan", on=["overrun"])
        assert watch.overrun_limit(db.session.get(Task, task.id)) is None
        for seconds in range(1, 11):
            run_id = dispatch.dispatch(task.id)["run_id"]
            update_task_status(run_id, "running")
            update_task_status(run_id, "success")
            db.session.get(TaskRun, run_id).duration_ms = seconds * 1000
            db.session.commit()
        assert watch.overrun_limit(db.session.get(Task, task.id)) == 20.0  # twice the p95 (10 s)
        run_id = dispatch.dispatch(task.id)["run_id"]
        update_task_status(run_id, "running")
        db.session.get(TaskRun, run_id).started_at = utcnow() - timedelta(seconds=21)
        db.session.commit()
        assert watchdog.tick({}) == {task.id: "overrunning"}
        watchdog.tick({})
        rows = db.session.query(Notification).filter_by(kind="overrun").all()
        assert len(rows) == 1 and rows[0].run_id == run_id
        assert "it keeps running" in rows[0].body


def test_a_task_failing_as_often_as_its_rule_says_shows_failing(app):
    with app.app_context():
        task = _task("flaky", on=["failure"], after_failures=2)
        for expected in ({}, {task.id: "failing"}):
            run_id = dispatch.dispatch(task.id)["run_id"]
            update_task_status(run_id, "running")
            update_task_status(run_id, "failed", error="exit code 1")
            assert watchdog.tick({}) == expected


def test_a_pending_row_whose_delivery_was_never_queued_is_queued_again(app, redis_server):
    with app.app_context():
        channels.create_channel({"name": "ops", "url": URL})
        # An id no other test's delivery job has (the private Redis lives for the session).
        row = Notification(id=987_654_321, channel="ops", kind="test", title="t", body="b", status="pending", attempts=0,
                           created_at=utcnow() - timedelta(seconds=outbox.STRANDED_AFTER + 1))
        db.session.add(row)
        db.session.commit()
        assert not dispatch.job_exists(f"notify-{row.id}")
        assert outbox.requeue_stranded() == 1
        assert dispatch.job_exists(f"notify-{row.id}")
        assert outbox.requeue_stranded() == 0, "a queued delivery is not queued twice"
