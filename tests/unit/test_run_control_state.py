"""Run control in the web app, against SQLite and the private Redis: progress reports and
attempts in update_task_status, retries on enqueue, stop and cancel, the lost-run sweep,
retention, history stats, panels, the run room's subscribe, the API routes and the CLI."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from rq.job import Job
from rq.serializers import JSONSerializer

from tests.conftest import basic_auth
from webapp.access import users
from webapp.core.errors import Conflict, NotFound
from webapp.core.extensions import db
from webapp.core.models import AuditEntry, Event, Task, TaskRun
from webapp.core.timeutil import utcnow
from webapp.live import events, panels, stats
from webapp.runs import dispatch, liveness, lost_runs, output, retention
from webapp.runs.state import open_run, update_task_status

NEW_FIELDS = {"attempt", "max_attempts", "next_attempt_at", "progress_message"}


def queued(app, task_id: int) -> int:
    with app.app_context():
        run, _ = open_run(db.session.get(Task, task_id), "manual")
        db.session.commit()
        return run.id


def read(app, run_id: int) -> dict:
    with app.app_context():
        return db.session.get(TaskRun, run_id).to_dict(with_output=True)


# --- update_task_status: progress, attempts ------------------------------------------


def test_progress_report_is_an_event_that_changes_only_progress(app, make_task):
    task_id = make_task()
    run_id = queued(app, task_id)
    with app.app_context():
        running = update_task_status(run_id, "running", worker_name="w1")
        task_before = db.session.get(Task, task_id).to_dict()
        report = update_task_status(run_id, "running", progress=40, progress_message="host 3/7")
        task_after = db.session.get(Task, task_id).to_dict()
    assert NEW_FIELDS <= set(report)
    assert report["seq"] == running["seq"] + 1 and report["status"] == "running"
    assert (report["progress"], report["progress_message"]) == (40, "host 3/7")
    assert report["started_at"] == running["started_at"]
    assert task_after["last_run_at"] == task_before["last_run_at"]
    run = read(app, run_id)
    assert run["worker"] == "w1" and run["progress"] == 40 and run["progress_message"] == "host 3/7"


def test_progress_of_a_run_that_is_not_running_is_ignored(app, make_task):
    run_id = queued(app, make_task())
    with app.app_context():
        update_task_status(run_id, "running")
        update_task_status(run_id, "success")
        assert update_task_status(run_id, "running", progress=50) is None
    assert read(app, run_id)["progress"] == 100


def test_retrying_then_next_attempt_then_success(app, make_task):
    task_id = make_task(retries={"max": 2, "backoff": [10]})
    run_id = queued(app, task_id)
    later = utcnow() + timedelta(seconds=10)
    with app.app_context():
        seen = [update_task_status(run_id, "running"),
                update_task_status(run_id, "running", progress=30, progress_message="a"),
                update_task_status(run_id, "retrying", error="exit code 1", next_attempt_at=later),
                update_task_status(run_id, "running"),
                update_task_status(run_id, "success")]
    assert [(e["status"], e["attempt"], e["max_attempts"]) for e in seen] == [
        ("running", 1, 3), ("running", 1, 3), ("retrying", 1, 3), ("running", 2, 3), ("success", 2, 3)]
    retrying, second = seen[2], seen[3]
    assert retrying["error"] == "exit code 1" and retrying["next_attempt_at"] is not None
    assert retrying["progress"] == 30 and retrying["finished_at"] is None
    # The next attempt starts clean; the run keeps its first start.
    assert second["error"] is None and second["progress"] is None and second["next_attempt_at"] is None
    assert second["started_at"] == seen[0]["started_at"]
    assert seen[-1]["error"] is None and seen[-1]["next_attempt_at"] is None


def test_max_attempts_comes_from_the_task_when_queued(app, make_task):
    assert read(app, queued(app, make_task()))["max_attempts"] == 1
    assert read(app, queued(app, make_task(retries={"max": 4, "backoff": []})))["max_attempts"] == 5


# --- retries on enqueue ------------------------------------------------------------------


def test_retry_pads_the_backoff_so_each_attempt_waits_its_own_delay(app, make_task):
    with app.app_context():
        run_id = queued(app, make_task(retries={"max": 3, "backoff": [1, 5]}))
        retry = dispatch.retry_for(run_id)
        assert (retry.max, retry.intervals) == (3, [1, 5, 5])
        assert dispatch.retry_for(queued(app, make_task(retries={"max": 2, "backoff": []}))).intervals == [0, 0]
        assert dispatch.retry_for(queued(app, make_task())) is None
        assert dispatch.retry_for(queued(app, make_task(retries={"max": 0, "backoff": [3]}))) is None


def test_the_enqueued_job_carries_the_retry(app, make_task, clean_redis):
    task_id = make_task(retries={"max": 2, "backoff": [7, 9]})
    with app.app_context():
        result = dispatch.dispatch(task_id)
        job = Job.fetch(result["job_id"], connection=clean_redis, serializer=JSONSerializer)
    assert job.retries_left == 2 and job.retry_intervals == [7, 9]
    assert job.get_retry_interval() == 7


# --- stop and cancel -----------------------------------------------------------------


def test_cancel_a_queued_run_takes_its_job_off_the_queue(app, make_task, clean_redis):
    task_id = make_task()
    with app.app_context():
        result = dispatch.dispatch(task_id)
        answer = dispatch.stop_run(result["run_id"])
        job = Job.fetch(result["job_id"], connection=clean_redis, serializer=JSONSerializer)
        assert dispatch.queue().job_ids == []
    assert answer == {"run_id": result["run_id"], "job_id": result["job_id"],
                      "action": "cancel", "status": "canceled"}
    assert job.get_status() == "canceled"
    run = read(app, result["run_id"])
    assert run["status"] == "canceled" and run["error"] == "canceled by an operator"


def test_stop_a_finished_run_is_a_conflict_and_an_unknown_one_not_found(app, make_task):
    run_id = queued(app, make_task())
    with app.app_context():
        update_task_status(run_id, "running")
        update_task_status(run_id, "success")
        with pytest.raises(Conflict, match="already ended"):
            dispatch.stop_run(run_id)
        with pytest.raises(NotFound):
            dispatch.stop_run(999)


def test_stop_a_running_run_whose_worker_is_gone_marks_it_stopped(app, make_task, clean_redis):
    run_id = queued(app, make_task())
    with app.app_context():
        update_task_status(run_id, "running", worker_name="ghost")
        answer = dispatch.stop_run(run_id)
    assert answer["status"] == "stopped" and read(app, run_id)["status"] == "stopped"


def test_stop_a_running_run_whose_worker_lives_but_runs_no_job_is_a_conflict(app, make_task, clean_redis):
    run_id = queued(app, make_task())
    liveness.beat(clean_redis, "busy-elsewhere")
    with app.app_context():
        update_task_status(run_id, "running", worker_name="busy-elsewhere")
        with pytest.raises(Conflict, match="not executing"):
            dispatch.stop_run(run_id)
    assert read(app, run_id)["status"] == "running"


def test_api_stop_needs_an_operator_and_is_audited(app, client, make_task, clean_redis):
    with app.app_context():
        users.create_user("vera", "viewer", "viewer-password-123")
        users.create_user("otto", "operator", "operator-password-123")
        result = dispatch.dispatch(make_task())
    path = f"/api/runs/{result['run_id']}/stop"
    viewer = {"Authorization": basic_auth("vera", "viewer-password-123")}
    operator = {"Authorization": basic_auth("otto", "operator-password-123")}
    assert client.post(path, headers=viewer).status_code == 403
    answer = client.post(path, headers=operator)
    assert answer.status_code == 200 and answer.get_json()["status"] == "canceled"
    again = client.post(path, headers=operator)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"
    assert client.post("/api/runs/4242/stop", headers=operator).status_code == 404
    with app.app_context():
        entries = db.session.execute(db.select(AuditEntry).where(AuditEntry.action == "stop")).scalars().all()
        assert [(e.username, e.changes) for e in entries] == [("otto", {"run_id": result["run_id"]})]


# --- lost runs -------------------------------------------------------------------------


def test_sweep_fails_running_runs_of_silent_workers_only(app, make_task, clean_redis):
    alive_run, dead_run, legacy_run = (queued(app, make_task()) for _ in range(3))
    liveness.beat(clean_redis, "alive")
    with app.app_context():
        update_task_status(alive_run, "running", worker_name="alive")
        update_task_status(dead_run, "running", worker_name="dead")
        update_task_status(legacy_run, "running")  # no worker recorded: left alone
        output.append(dead_run, 1, [{"n": 1, "stream": "stdout", "text": "partial work"}])
        assert lost_runs.sweep(clean_redis) == [dead_run]
        assert lost_runs.sweep(clean_redis) == []  # harmless twice
    dead = read(app, dead_run)
    assert dead["status"] == "failed" and dead["error"] == "worker lost: worker dead stopped responding"
    assert dead["output"] == "partial work\n" and dead["output_lines"] == 1
    assert read(app, alive_run)["status"] == "running" and read(app, legacy_run)["status"] == "running"


# --- retention -------------------------------------------------------------------------


def test_prune_deletes_old_runs_and_events_but_never_the_head_or_a_tasks_newest_run(app, make_task):
    task_id = make_task()
    with app.app_context():
        runs = []
        for _ in range(4):
            run_id = queued(app, task_id)
            update_task_status(run_id, "running")
            update_task_status(run_id, "success")
            runs.append(run_id)
        active = queued(app, task_id)
        head = events.head_seq()
        old = utcnow() - timedelta(days=40)
        db.session.execute(db.update(TaskRun).values(finished_at=old, queued_at=old))
        db.session.execute(db.update(Event).values(created_at=old))
        db.session.commit()
        result = retention.prune(days=30, batch=2)
        assert (result.runs, result.done) == (4, True)
        # Active runs stay, and so does each task's newest run (the active one here).
        assert db.session.execute(db.select(TaskRun.id)).scalars().all() == [active]
        assert db.session.execute(db.select(Event.id)).scalars().all() == [head]
        assert events.head_seq() == head
        again = queued(app, task_id)
        assert read(app, again)["id"] > active and events.head_seq() > head


def test_prune_keeps_each_tasks_newest_finished_run(app, make_task):
    a, b = make_task(), make_task()
    with app.app_context():
        for task_id in (a, a, b):
            run_id = queued(app, task_id)
            update_task_status(run_id, "running")
            update_task_status(run_id, "failed", error="x")
        old = utcnow() - timedelta(days=40)
        db.session.execute(db.update(TaskRun).values(finished_at=old))
        db.session.commit()
        assert retention.prune(days=30).runs == 1
        assert sorted(db.session.execute(db.select(TaskRun.task_id)).scalars()) == [a, b]


def test_prune_bounds_the_event_log_by_count(app, make_task):
    task_id = make_task()
    with app.app_context():
        for _ in range(5):
            run_id = queued(app, task_id)
            update_task_status(run_id, "running")
            update_task_status(run_id, "success")
        head = events.head_seq()
        assert retention.prune(days=0, max_events=4, batch=3).events == head - 4
        assert db.session.execute(db.select(db.func.count(Event.id))).scalar() == 4
        assert events.head_seq() == head


# --- stats and panels --------------------------------------------------------------------


def test_task_stats_counts_rates_and_series(app, make_task):
    task_id = make_task()
    with app.app_context():
        for outcome in ("success", "success", "failed", "stopped", "canceled"):
            run_id = queued(app, task_id)
            if outcome != "canceled":
                update_task_status(run_id, "running")
            update_task_status(run_id, outcome, error=None if outcome == "success" else "x")
        summary = stats.task_stats(task_id)
        assert summary["runs"] == 5 and summary["counts"]["success"] == 2
        assert summary["counts"]["canceled"] == 1 and summary["counts"]["queued"] == 0
        assert summary["success_rate"] == 0.5
        assert [p["status"] for p in summary["series"]] == ["success", "success", "failed", "stopped", "canceled"]
        assert summary["duration_ms"]["max"] is not None
        assert stats.task_stats(task_id, limit=2)["runs"] == 2


def test_panels_running_recent_and_statistics(app, make_task):
    busy = make_task(name="busy")
    make_task(name="off", enabled=False)
    with app.app_context():
        run_id = queued(app, busy)
        update_task_status(run_id, "running")
        update_task_status(run_id, "running", progress=70, progress_message="nearly")
        failed = queued(app, busy)
        update_task_status(failed, "failed", error="could not queue")
        result = panels.panels()
    assert [(r["id"], r["task_name"], r["progress"]) for r in result["running"]] == [(run_id, "busy", 70)]
    # Progress reports are not activity; newest first.
    assert [(e["run_id"], e["status"]) for e in result["recent"]] == [
        (failed, "failed"), (failed, "queued"), (run_id, "running"), (run_id, "queued")]
    assert {k: result["stats"][k] for k in ("tasks", "enabled", "running", "queued", "failed_24h")} == {
        "tasks": 2, "enabled": 1, "running": 1, "queued": 0, "failed_24h": 1}


def test_the_24_hour_counts_come_with_the_minutes_they_fell_in(app, make_task):
    task = make_task(name="minutely")
    with app.app_context():
        before = int(time.time()) // 60 * 60
        for status in ("success", "failed", "success"):
            run_id = queued(app, task)
            update_task_status(run_id, "running")
            update_task_status(run_id, status)
        old = queued(app, task)
        update_task_status(old, "running")
        update_task_status(old, "success")
        db.session.get(TaskRun, old).finished_at = utcnow() - timedelta(hours=25)  # out of the window
        db.session.commit()
        stats = panels.statistics()
    after = int(time.time()) // 60 * 60
    minutes = stats["ended_by_minute"]
    assert len(minutes) in (1, 2) and all(before <= m[0] <= after for m in minutes), minutes
    assert [sum(m[i] for m in minutes) for i in (1, 2, 3)] == [2, 1, 0]
    assert (stats["success_24h"], stats["failed_24h"], stats["finished_24h"]) == (2, 1, 3)


def test_api_stats_and_panels(app, client, make_task):
    task_id = make_task()
    assert client.get(f"/api/tasks/{task_id}/stats?limit=10").get_json()["runs"] == 0
    assert client.get("/api/tasks/999/stats").status_code == 404
    assert client.get(f"/api/tasks/{task_id}/stats?limit=0").status_code == 400
    assert set(client.get("/api/panels").get_json()) == {"running", "recent", "stats"}


# --- live output and the run room ----------------------------------------------------------


def lines(*texts, start=1, stream="stdout"):
    return [{"n": start + i, "stream": stream, "text": t} for i, t in enumerate(texts)]


def test_output_append_keeps_a_capped_list_and_catch_up_reads_after_n(app, make_task, clean_redis):
    run_id = queued(app, make_task())
    with app.app_context():
        output.append(run_id, 1, lines("a", "b", "c"))
        output.append(run_id, 1, lines("d", start=4))
        run = db.session.get(TaskRun, run_id)
        assert output.catch_up(run, None) == {"lines": lines("a", "b", "c", "d"), "last": 4,
                                               "truncated": False, "complete": False}
        assert output.catch_up(run, 2)["lines"] == lines("c", "d", start=3)
        assert output.catch_up(run, 4)["lines"] == []
        assert output.catch_up(run, None, limit=2) == {"lines": lines("c", "d", start=3), "last": 4,
                                                       "truncated": True, "complete": False}
        assert output.last_line_number(run_id) == 4
    assert clean_redis.ttl(output.output_key(run_id)) > 0


def test_catch_up_of_a_finished_run_falls_back_to_the_stored_output(app, make_task, clean_redis):
    run_id = queued(app, make_task())
    with app.app_context():
        update_task_status(run_id, "running")
        update_task_status(run_id, "success", output="x\ny\nz\n", output_lines=12)
        caught = output.catch_up(db.session.get(TaskRun, run_id), 10)
    assert caught == {"lines": [{"n": 11, "stream": None, "text": "y"}, {"n": 12, "stream": None, "text": "z"}],
                      "last": 12, "truncated": False, "complete": True}


def test_a_message_is_bounded_and_keeps_the_newest_lines():
    many = lines(*(["y" * 1000] * 200))
    kept = output.last_fitting(many)
    assert 0 < len(kept) < 200 and kept[-1]["n"] == 200
    assert sum(len(line["text"]) for line in kept) <= output.MAX_MESSAGE_BYTES


def test_subscribe_to_a_run_room_returns_the_run_and_its_lines(app, make_task, socket_client, clean_redis):
    run_id = queued(app, make_task())
    with app.app_context():
        update_task_status(run_id, "running")
        output.append(run_id, 1, lines("one", "two"))
    ack = socket_client.emit("subscribe", {"room": f"run:{run_id}", "since": None}, callback=True)
    assert ack["ok"] is True and ack["run"]["id"] == run_id and ack["run"]["status"] == "running"
    assert ack["output"]["lines"] == lines("one", "two") and ack["output"]["complete"] is False
    ack = socket_client.emit("subscribe", {"room": f"run:{run_id}", "after": 1}, callback=True)
    assert ack["output"]["lines"] == lines("two", start=2)
    for refused in ({"room": "run:999"}, {"room": f"run:{run_id}", "after": -1},
                    {"room": f"run:{run_id}", "after": "3"}):
        assert socket_client.emit("subscribe", refused, callback=True)["ok"] is False


def test_snapshot_acks_carry_panels_and_stats(app, make_task, socket_client):
    task_id = make_task()
    ack = socket_client.emit("subscribe", {"room": "tasks", "since": None, "snapshot": True}, callback=True)
    assert set(ack["panels"]) == {"running", "recent", "stats"} and "stats" not in ack
    ack = socket_client.emit("subscribe", {"room": f"task:{task_id}", "since": None, "snapshot": True},
                             callback=True)
    assert ack["stats"]["task_id"] == task_id and "panels" not in ack
    plain = socket_client.emit("subscribe", {"room": "tasks", "since": None}, callback=True)
    assert "panels" not in plain


# --- CLI ---------------------------------------------------------------------------------


def test_cli_runs_list_stop_and_db_prune(app, make_task, clean_redis):
    task_id = make_task(name="nightly")
    runner = app.test_cli_runner()
    with app.app_context():
        done = queued(app, task_id)
        update_task_status(done, "running")
        update_task_status(done, "failed", error="boom\nsecond line")
        waiting = dispatch.dispatch(task_id)["run_id"]
    listed = runner.invoke(args=["runs", "list", "nightly"])
    assert listed.exit_code == 0, listed.output
    assert f"{waiting:>6}  queued" in listed.output and "boom" in listed.output
    assert "second line" not in listed.output and "success rate over these runs: 0%" in listed.output
    stopped = runner.invoke(args=["runs", "stop", str(waiting)])
    assert stopped.exit_code == 0 and f"canceled run {waiting}" in stopped.output
    again = runner.invoke(args=["runs", "stop", str(waiting)])
    assert again.exit_code != 0 and "already ended" in again.output
    assert runner.invoke(args=["runs", "list", "nope"]).exit_code != 0
    pruned = runner.invoke(args=["db", "prune", "--days", "30"])
    assert pruned.exit_code == 0 and pruned.output.startswith("pruned 0 runs and 0 events")


# --- housekeeping (the scheduler leader's periodic call) -----------------------------------


def test_housekeeping_sweeps_every_few_seconds_and_prunes_hourly(app, monkeypatch, clean_redis):
    from webapp.runs import housekeeping

    calls = []
    monkeypatch.setattr(housekeeping, "_due", {"sweep": 0.0, "prune": 0.0})
    monkeypatch.setattr(lost_runs, "sweep", lambda connection: calls.append("sweep"))
    backlog = iter([False, True, True])  # the first prune leaves a backlog
    monkeypatch.setattr(retention, "prune", lambda **kw: (calls.append("prune"),
                                                        retention.PruneResult(done=next(backlog)))[1])
    with app.app_context():
        for now in (1000.0, 1001.0, 1002.0, 1006.0, 1006.5, 4700.0):
            housekeeping.run_due(clean_redis, now=now)
    assert calls == ["sweep", "prune", "prune", "sweep", "sweep", "prune"]


def test_housekeeping_never_raises(app, monkeypatch, clean_redis):
    from webapp.runs import housekeeping

    monkeypatch.setattr(housekeeping, "_due", {"sweep": 0.0, "prune": 0.0})

    def broken(*args, **kwargs):
        raise RuntimeError("database away")

    monkeypatch.setattr(lost_runs, "sweep", broken)
    monkeypatch.setattr(retention, "prune", broken)
    with app.app_context():
        housekeeping.run_due(clean_redis, now=10.0)
    assert housekeeping._due["prune"] == 10.0 + housekeeping.RETRY_AFTER_ERROR
