"""Queues, concurrency groups and chains in one process (real Redis, SQLite): where a
run's job goes, who waits and why, who starts when a run ends. The whole-system proof
with real workers is tests/e2e/test_queues_chains.py."""
from __future__ import annotations

from itertools import count

import pytest

_names = count(1)


@pytest.fixture
def ctx(app, redis_server):
    redis_server.client().flushdb()
    with app.app_context():
        yield app
    redis_server.client().flushdb()


def task(**fields) -> int:
    from webapp.core.extensions import db
    from webapp.core.models import Task

    values = {"name": f"t{next(_names)}", "kind": "shell", "config": {"command": "true"}}
    values.update(fields)
    row = Task(**values)
    db.session.add(row)
    db.session.commit()
    return row.id


def runs(task_id: int) -> list:
    from webapp.core.extensions import db
    from webapp.core.models import TaskRun

    db.session.expire_all()
    return list(db.session.execute(
        db.select(TaskRun).where(TaskRun.task_id == task_id).order_by(TaskRun.id)).scalars())


def jobs(redis_server, queue: str = "taskpulse") -> list[str]:
    return [j.decode() for j in redis_server.client().lrange(f"rq:queue:{queue}", 0, -1)]


def limit(**limits) -> None:
    from webapp.runs import group_settings

    group_settings.set_limits(limits, actor="test")


def test_a_run_goes_to_its_tasks_queue(ctx, redis_server):
    from webapp.runs.dispatch import dispatch

    scan = task(queue="scanners")
    answer = dispatch(scan)
    assert jobs(redis_server, "scanners") == [answer["job_id"]] and jobs(redis_server) == []


def test_a_full_group_holds_the_run_with_the_reason_and_its_end_releases_the_next(ctx, redis_server):
    from webapp.runs.dispatch import dispatch
    from webapp.runs.state import update_task_status

    limit(scan=1)
    a, b, c = task(tags=["scan"]), task(tags=["scan", "x"]), task(tags=["scan"])
    first = dispatch(a)
    second, third = dispatch(b), dispatch(c)
    assert third["waiting"] == second["waiting"]
    assert first["status"] == "queued" and "waiting" not in first
    assert second["waiting"] == "waiting for a slot in group scan (1 of 1 slots taken)"
    assert jobs(redis_server) == [first["job_id"]]
    [held] = runs(b)
    assert (held.status, held.held, held.waiting) == ("queued", True, second["waiting"])
    update_task_status(first["run_id"], "running")
    update_task_status(first["run_id"], "success")  # its end releases the oldest waiter only
    assert jobs(redis_server) == [first["job_id"], second["job_id"]]
    [released] = runs(b)
    assert (released.held, released.waiting) == (False, None)
    assert runs(c)[0].held is True


def test_raising_a_limit_lets_waiting_runs_go_at_once(ctx, redis_server):
    from webapp.runs.dispatch import dispatch

    limit(scan=1)
    a, b = task(tags=["scan"]), task(tags=["scan"])
    dispatch(a)
    waiting = dispatch(b)
    assert waiting["job_id"] not in jobs(redis_server)
    limit(scan=2)
    assert waiting["job_id"] in jobs(redis_server)


def test_a_canceled_waiting_run_frees_nothing_and_says_canceled(ctx, redis_server):
    from webapp.runs.dispatch import dispatch, stop_run

    limit(scan=1)
    a, b = task(tags=["scan"]), task(tags=["scan"])
    dispatch(a)
    waiting = dispatch(b)
    assert stop_run(waiting["run_id"])["status"] == "canceled"
    [run] = runs(b)
    assert (run.status, run.waiting) == ("canceled", None)


@pytest.mark.parametrize("value,field", [
    ({"scan": 0}, "concurrency.scan"), ({"scan": "2"}, "concurrency.scan"), ({"scan": True}, "concurrency.scan"),
    ({"bad tag": 1}, "concurrency"), ([1], "concurrency"), ({"scan": 1001}, "concurrency.scan"),
])
def test_bad_limits_are_refused_naming_the_field(ctx, value, field):
    from webapp.core.errors import ValidationError
    from webapp.runs import group_settings, groups

    with pytest.raises(ValidationError) as info:
        group_settings.set_limits(value, "test")
    assert info.value.field == field
    assert groups.limits() == {}


def test_a_success_starts_its_chain_with_the_parent_and_a_failure_only_failure_and_always(ctx, redis_server):
    from webapp.runs.dispatch import dispatch
    from webapp.runs.state import update_task_status

    on_ok, on_fail, always = task(name="ok-child"), task(name="fail-child"), task(name="always-child")
    parent = task(name="parent", then=[{"task": "ok-child", "when": "success"},
                                       {"task": "fail-child", "when": "failure"},
                                       {"task": "always-child", "when": "always"}])
    run = dispatch(parent)
    update_task_status(run["run_id"], "running")
    update_task_status(run["run_id"], "success")
    [child] = runs(on_ok)
    assert (child.trigger, child.parent_run_id, child.status) == ("chain", run["run_id"], "queued")
    assert runs(on_fail) == [] and len(runs(always)) == 1
    again = dispatch(parent)
    update_task_status(again["run_id"], "running")
    update_task_status(again["run_id"], "failed", error="boom")
    assert len(runs(on_ok)) == 1 and runs(on_fail)[0].parent_run_id == again["run_id"]
    assert len(runs(always)) == 2


def test_a_canceled_run_starts_nothing_and_a_disabled_child_is_a_skipped_run(ctx, redis_server):
    from webapp.runs.dispatch import dispatch, stop_run
    from webapp.runs.state import update_task_status

    child = task(name="off-child", enabled=False)
    parent = task(name="p2", then=[{"task": "off-child", "when": "always"}])
    stop_run(dispatch(parent)["run_id"])  # canceled while queued
    assert runs(child) == []
    run = dispatch(parent)
    update_task_status(run["run_id"], "running")
    update_task_status(run["run_id"], "success")
    [skipped] = runs(child)
    assert (skipped.status, skipped.trigger, skipped.parent_run_id) == ("skipped", "chain", run["run_id"])
    assert "disabled" in skipped.error


def test_the_end_of_a_run_without_chain_or_alert_channel_asks_chains_and_alerts_nothing(ctx):
    # In a work horse every statement is compiled anew, so reads skipped here are
    # milliseconds off every run (bench/README.md, issue 20).
    from sqlalchemy import event

    from webapp.alerts import incidents
    from webapp.core.extensions import db
    from webapp.runs.state import RunEnd
    from webapp.scheduling import chains

    plain = task(notify={"channels": [], "on": ["failure"]})
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        for status in ("success", "failed", "stopped"):
            end = RunEnd(run_id=1, status=status, task_id=plain, notify={"channels": [], "on": ["failure"]})
            chains.run_ended(end)
            incidents.run_ended(end)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert statements == []
