"""Schedule rules: the daylight-saving rule of cron fires (against zoneinfo and a
brute-force oracle, and with hypothesis), the misfire rule, and one fire of a due task
(overlap, pause, disable, the guards against a doubled fire) against SQLite and the
private Redis."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import cache
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from webapp.core.errors import ValidationError
from webapp.scheduling.cron import cron_expression, next_fire, preview, wall_to_instant
from webapp.scheduling.misfire import plan_fire

UTC = timezone.utc
NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
MINUTE = timedelta(minutes=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(tz: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    """A wall-clock time in ``tz`` as zoneinfo reads it, as a UTC instant."""
    return datetime(*args, tzinfo=tz, fold=fold).astimezone(UTC)


def cron(expr: str) -> dict:
    return {"type": "cron", "expr": expr}


# --- the daylight-saving rule, case by case, against zoneinfo ----------------------------

# 2026: New York springs forward 2026-03-08 02:00 EST -> 03:00 EDT and falls back
# 2026-11-01 02:00 EDT -> 01:00 EST; London 2026-03-29 01:00 GMT -> 02:00 BST and
# 2026-10-25 02:00 BST -> 01:00 GMT.
DST_CASES = {
    "new-york-spring-02:30-fires-at-03:00": (
        "30 2 * * *", NY, utc(2026, 3, 6, 12),
        [local(NY, 2026, 3, 7, 2, 30), local(NY, 2026, 3, 8, 3, 0), local(NY, 2026, 3, 9, 2, 30)]),
    "new-york-spring-half-hours-merge-into-03:00": (
        "*/30 * * * *", NY, utc(2026, 3, 8, 5, 45),
        [local(NY, 2026, 3, 8, 1, 0), local(NY, 2026, 3, 8, 1, 30), local(NY, 2026, 3, 8, 3, 0),
         local(NY, 2026, 3, 8, 3, 30)]),
    "new-york-fall-01:30-fires-once-first": (
        "30 1 * * *", NY, utc(2026, 10, 30, 12),
        [local(NY, 2026, 10, 31, 1, 30), local(NY, 2026, 11, 1, 1, 30, fold=0),
         local(NY, 2026, 11, 2, 1, 30)]),
    "new-york-fall-hourly-skips-the-repeated-hour": (
        "0 * * * *", NY, utc(2026, 11, 1, 3, 30),
        [local(NY, 2026, 11, 1, 0, 0), local(NY, 2026, 11, 1, 1, 0, fold=0),
         local(NY, 2026, 11, 1, 2, 0), local(NY, 2026, 11, 1, 3, 0)]),
    "london-spring-01:30-fires-at-02:00": (
        "30 1 * * *", LONDON, utc(2026, 3, 27, 12),
        [local(LONDON, 2026, 3, 28, 1, 30), local(LONDON, 2026, 3, 29, 2, 0),
         local(LONDON, 2026, 3, 30, 1, 30)]),
    "london-fall-01:30-fires-once-first": (
        "30 1 * * *", LONDON, utc(2026, 10, 23, 12),
        [local(LONDON, 2026, 10, 24, 1, 30), local(LONDON, 2026, 10, 25, 1, 30, fold=0),
         local(LONDON, 2026, 10, 26, 1, 30)]),
    "london-02:30-next-five-across-march": (  # the "done when" schedule
        "30 2 * * *", LONDON, utc(2026, 3, 26, 0),
        [local(LONDON, 2026, 3, d, 2, 30) for d in range(26, 31)]),
}


@pytest.mark.parametrize("expr,tz,after,expected", DST_CASES.values(), ids=DST_CASES.keys())
def test_dst_rule_gives_the_documented_fires(expr, tz, after, expected):
    assert preview(cron(expr), tz.key, after, len(expected)) == expected


@pytest.mark.parametrize("tz,day", [(NY, (2026, 3, 8)), (LONDON, (2026, 3, 29))], ids=["new-york", "london"])
def test_a_missing_wall_time_fires_at_the_transition_itself(tz, day):
    gap_time = {NY: (2, 30), LONDON: (1, 30)}[tz]
    fire = next_fire(cron(f"{gap_time[1]} {gap_time[0]} * * *"), tz.key, datetime(*day, tzinfo=UTC))
    # The first instant with the new (summer) offset: one second earlier was still winter.
    assert fire.astimezone(tz).utcoffset() - (fire - timedelta(seconds=1)).astimezone(tz).utcoffset() == timedelta(hours=1)


def test_wall_to_instant_reads_existing_repeated_and_missing_times():
    assert wall_to_instant(datetime(2026, 7, 1, 12, 0), LONDON) == utc(2026, 7, 1, 11, 0)
    assert wall_to_instant(datetime(2026, 10, 25, 1, 30), LONDON) == utc(2026, 10, 25, 0, 30)  # BST, the first
    assert wall_to_instant(datetime(2026, 3, 29, 1, 30), LONDON) == utc(2026, 3, 29, 1, 0)  # 02:00 BST
    assert wall_to_instant(datetime(2026, 3, 8, 2, 59), NY) == utc(2026, 3, 8, 7, 0)  # 03:00 EDT


def test_cron_that_never_fires_is_refused():
    with pytest.raises(ValidationError) as info:
        cron_expression("0 0 30 2 *")
    assert info.value.field == "schedule.expr" and "never fires" in info.value.message


def test_end_of_time_means_no_next_fire():
    assert next_fire(cron("0 0 1 1 *"), "UTC", utc(9999, 6, 1)) is None
    assert next_fire({"type": "interval", "seconds": 60}, "UTC", datetime(9999, 12, 31, 23, 59, 30, tzinfo=UTC)) is None


# --- a brute-force oracle: every minute of the day, read through zoneinfo ------------------

def matcher(expr: str):
    """A cron matcher over croniter's expanded fields (day-of-month OR day-of-week when
    both are restricted, as cron and croniter do)."""
    fields, _ = croniter.expand(cron_expression(expr))
    minutes, hours, days, months, weekdays = (None if f == ["*"] else set(f) for f in fields)

    def matches(wall: datetime) -> bool:
        if (minutes and wall.minute not in minutes) or (hours and wall.hour not in hours):
            return False
        if months and wall.month not in months:
            return False
        day_ok = days is None or wall.day in days
        weekday_ok = weekdays is None or (wall.weekday() + 1) % 7 in weekdays
        return (day_ok or weekday_ok) if days and weekdays else (day_ok and weekday_ok)

    return matches


def oracle(expr: str, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The rule, minute by minute: a minute fires if its wall clock matches and is the
    first occurrence (fold 0), or if it ends a gap holding a matching wall time."""
    matches = matcher(expr)
    fires = []
    t = start.replace(second=0, microsecond=0) + MINUTE
    while t <= end:
        here = t.astimezone(tz)
        wall = here.replace(tzinfo=None)
        jump = here.utcoffset() - (t - MINUTE).astimezone(tz).utcoffset()
        skipped = [wall - jump + i * MINUTE for i in range(int(jump / MINUTE))] if jump > timedelta(0) else []
        if (here.fold == 0 and matches(wall)) or any(matches(w) for w in skipped):
            fires.append(t)
        t += MINUTE
    return fires


@cache
def transitions(zone_name: str, year: int) -> tuple[datetime, ...]:
    """The instants (to the minute) where the zone's UTC offset changes in ``year``."""
    tz = ZoneInfo(zone_name)
    found = []
    t, end = utc(year, 1, 1), utc(year + 1, 1, 1)
    step = timedelta(hours=1)
    while t < end:
        if t.astimezone(tz).utcoffset() != (t + step).astimezone(tz).utcoffset():
            m = t
            while m.astimezone(tz).utcoffset() == t.astimezone(tz).utcoffset():
                m += MINUTE
            found.append(m)
        t += step
    return tuple(found)


ORACLE_ZONES = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Santiago",
                "America/Havana", "Europe/Dublin", "Pacific/Chatham"]
ORACLE_EXPRS = ["*/15 * * * *", "30 1 * * *", "30 2 * * *", "0 * * * *", "0 0 * * *",
                "45 0-3 * * *", "10,40 23,0,1,2 * * *"]


@pytest.mark.parametrize("zone_name", ORACLE_ZONES)
def test_fires_around_every_2026_transition_match_the_minute_by_minute_oracle(zone_name):
    tz = ZoneInfo(zone_name)
    assert transitions(zone_name, 2026), "a zone with daylight saving"
    for change in transitions(zone_name, 2026):
        start, end = change - timedelta(hours=14), change + timedelta(hours=14)
        for expr in ORACLE_EXPRS:
            fires = [f for f in preview(cron(expr), zone_name, start, 300) if f <= end]
            assert fires == oracle(expr, tz, start, end), (zone_name, change, expr)


# --- hypothesis: random expressions, zones and starts --------------------------------------

def field(low: int, high: int, star_weight: int = 1) -> st.SearchStrategy[str]:
    """A cron field; ``star_weight`` makes "*" that many times likelier (dense schedules
    reach a daylight-saving change within a few fires)."""
    value = st.integers(low, high)
    ranges = st.tuples(value, value).map(sorted)
    return st.one_of(
        *[st.just("*")] * star_weight,
        st.integers(1, max(1, (high - low) // 2)).map(lambda k: f"*/{k}"),
        value.map(str),
        ranges.map(lambda r: f"{r[0]}-{r[1]}"),
        st.tuples(ranges, st.integers(1, 5)).map(lambda x: f"{x[0][0]}-{x[0][1]}/{x[1]}"),
        st.lists(value, min_size=2, max_size=4, unique=True).map(lambda v: ",".join(map(str, sorted(v)))),
    )


EXPRESSIONS = st.tuples(field(0, 59), field(0, 23, 3), field(1, 31, 6), field(1, 12, 6),
                        field(0, 6, 6)).map(" ".join)
ZONES = st.sampled_from(ORACLE_ZONES + ["UTC", "Asia/Kolkata", "Asia/Tehran", "Africa/Casablanca",
                                        "America/Sao_Paulo", "Australia/Sydney"])


@st.composite
def starts(draw, zone_name: str) -> datetime:
    """Mostly near a daylight-saving change of the zone (where the rule matters)."""
    changes = [c for year in (2024, 2026, 2031) for c in transitions(zone_name, year)]
    where = draw(st.sampled_from(["just-before", "just-before", "days-around", "anywhere"]))
    if changes and where == "just-before":
        return draw(st.sampled_from(changes)) + timedelta(minutes=draw(st.integers(-180, 30)))
    if changes and where == "days-around":
        return draw(st.sampled_from(changes)) + timedelta(minutes=draw(st.integers(-3 * 1440, 1440)))
    return utc(2001, 1, 1) + timedelta(minutes=draw(st.integers(0, 35 * 365 * 1440)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), expr=EXPRESSIONS, zone_name=ZONES)
def test_random_cron_fires_increase_and_match_the_wall_clock(data, expr, zone_name):
    try:
        cron_expression(expr)
    except ValidationError:
        assume(False)  # e.g. "0 0 31 2 *": no such day, refused on input
    tz = ZoneInfo(zone_name)
    start = data.draw(starts(zone_name))
    fires = preview(cron(expr), zone_name, start, 20)
    assert fires, "a valid expression fires"
    matches = matcher(expr)
    previous = start
    for fire in fires:
        assert fire > previous  # strictly increasing, and strictly after the start
        here = fire.astimezone(tz)
        assert here.fold == 0, "never in the second pass of a repeated hour"
        if not matches(here.replace(tzinfo=None)):
            # The documented shift: a wall time lost in a spring-forward gap fires at its end.
            jump = here.utcoffset() - (fire - timedelta(seconds=1)).astimezone(tz).utcoffset()
            assert jump > timedelta(0), f"{fire} ({here}) does not match {expr!r}"
            gap_start = here.replace(tzinfo=None) - jump
            assert any(matches(gap_start + i * MINUTE) for i in range(int(jump / MINUTE)))
        # Nothing was left out between two fires (checked where the stretch is short).
        if fire - previous <= timedelta(hours=12):
            assert oracle(expr, tz, previous, fire) == [fire]
        previous = fire


# --- the misfire rule -----------------------------------------------------------------------

EVERY_2S = {"type": "interval", "seconds": 2}
NOW = utc(2026, 5, 4, 12, 0, 0)


def test_an_on_time_fire_runs_and_the_next_follows_the_grid():
    plan = plan_fire(EVERY_2S, "UTC", NOW - timedelta(seconds=0.3), NOW)
    assert plan.fire_at == NOW - timedelta(seconds=0.3) and not plan.missed
    assert plan.next_run_at == NOW + timedelta(seconds=1.7)


def test_a_late_tick_coalesces_to_the_latest_fire_and_keeps_the_phase():
    plan = plan_fire(EVERY_2S, "UTC", NOW - timedelta(seconds=7), NOW)  # due at -7, -5, -3, -1
    assert plan.fire_at == NOW - timedelta(seconds=1) and plan.missed
    assert plan.next_run_at == NOW + timedelta(seconds=1)


@pytest.mark.parametrize("misfire,runs", [("run_once", True), ("skip", False)])
def test_downtime_gives_one_catch_up_or_none(misfire, runs):
    hourly_at_20 = {"type": "interval", "seconds": 3600}
    plan = plan_fire(hourly_at_20, "UTC", NOW - timedelta(seconds=120), NOW, misfire=misfire)
    assert plan.fire_at == (NOW - timedelta(seconds=120) if runs else None)
    assert plan.next_run_at == NOW + timedelta(seconds=3480)


def test_a_catch_up_is_only_for_a_fire_within_the_grace_time():
    every_5_min = cron("*/5 * * * *")
    plan = plan_fire(every_5_min, "UTC", NOW - timedelta(hours=3), NOW + timedelta(seconds=30), grace=300)
    assert plan.fire_at == NOW and plan.missed  # 36 missed fires, one run, for the latest
    hourly = cron("0 * * * *")
    late = NOW + timedelta(minutes=20)
    plan = plan_fire(hourly, "UTC", NOW - timedelta(hours=3), late, grace=300)
    assert plan.fire_at is None and plan.next_run_at == NOW + timedelta(hours=1)
    assert plan_fire(hourly, "UTC", NOW - timedelta(hours=3), late, grace=1800).fire_at == NOW


def test_skip_still_runs_a_fire_that_is_only_a_handover_late():
    plan = plan_fire(cron("* * * * *"), "UTC", NOW, NOW + timedelta(seconds=6), misfire="skip")
    assert plan.fire_at == NOW and not plan.missed


@pytest.mark.parametrize("late,misfire,runs", [
    (100, "run_once", True), (100, "skip", False), (400, "run_once", False), (5, "skip", True)])
def test_a_one_off_fires_late_once_or_never(late, misfire, runs):
    plan = plan_fire({"type": "once", "at": "2026-05-04T12:00:00Z"}, "UTC", NOW,
                     NOW + timedelta(seconds=late), misfire=misfire)
    assert plan.fire_at == (NOW if runs else None) and plan.next_run_at is None


def test_a_task_not_yet_due_is_left_alone():
    plan = plan_fire(EVERY_2S, "UTC", NOW + timedelta(seconds=1), NOW)
    assert (plan.fire_at, plan.next_run_at, plan.missed) == (None, NOW + timedelta(seconds=1), False)


# --- one fire of a due task, against SQLite and the private Redis ---------------------------

@pytest.fixture
def db_app(app, redis_server):
    redis_server.client().flushdb()
    with app.app_context():
        yield app
    redis_server.client().flushdb()


_names = count(1)


def due_task(**fields) -> int:
    from webapp.core.extensions import db
    from webapp.core.models import Task

    values = {"name": f"task-{next(_names)}", "kind": "shell", "config": {"command": "true"},
              "schedule": EVERY_2S, "next_run_at": NOW}
    values.update(fields)
    task = Task(**values)
    db.session.add(task)
    db.session.commit()
    return task.id


def runs_of(task_id: int) -> list:
    from webapp.core.extensions import db
    from webapp.core.models import TaskRun

    db.session.expire_all()
    return list(db.session.execute(
        db.select(TaskRun).where(TaskRun.task_id == task_id).order_by(TaskRun.id)).scalars())


def queued_job_ids(redis_server) -> list[str]:
    return [j.decode() for j in redis_server.client().lrange("rq:queue:taskpulse", 0, -1)]


def test_a_fire_queues_a_scheduled_run_and_advances_in_one_go(db_app, redis_server):
    from webapp.core.extensions import db
    from webapp.core.models import Event, Task
    from webapp.scheduling.fire import fire_task

    task_id = due_task()
    assert fire_task(task_id, NOW + timedelta(seconds=0.2)) == "queued"
    [run] = runs_of(task_id)
    assert (run.status, run.trigger, run.held) == ("queued", "schedule", False)
    assert run.to_dict()["scheduled_for"] == "2026-05-04T12:00:00Z"
    assert queued_job_ids(redis_server) == [run.job_id]
    task = db.session.get(Task, task_id)
    assert task.to_dict()["next_run_at"] == "2026-05-04T12:00:02Z"
    event = db.session.execute(db.select(Event).order_by(Event.id.desc())).scalars().first()
    assert event.payload["next_run_at"] == "2026-05-04T12:00:02Z" and event.payload["trigger"] == "schedule"
    # The same tick again (a second scheduler that read the old next_run_at): nothing.
    assert fire_task(task_id, NOW + timedelta(seconds=0.2)) == "not_due"
    assert len(runs_of(task_id)) == 1


def test_the_database_refuses_a_second_run_for_the_same_fire(db_app):
    from sqlalchemy.exc import IntegrityError

    from webapp.core.extensions import db
    from webapp.core.models import Task
    from webapp.runs.state import open_run

    task_id = due_task()
    task = db.session.get(Task, task_id)
    open_run(task, "schedule", scheduled_for=NOW)
    db.session.commit()
    with pytest.raises(IntegrityError):
        open_run(task, "schedule", scheduled_for=NOW)
    db.session.rollback()
    assert len(runs_of(task_id)) == 1


def test_overlap_skip_records_a_skipped_run_with_its_reason(db_app, redis_server):
    from webapp.core.extensions import db
    from webapp.core.models import Task
    from webapp.runs.state import update_task_status
    from webapp.scheduling.fire import fire_task

    task_id = due_task()
    fire_task(task_id, NOW)
    [first] = runs_of(task_id)
    update_task_status(first.id, "running")
    assert fire_task(task_id, NOW + timedelta(seconds=2)) == "skipped"
    first, skipped = runs_of(task_id)
    assert skipped.status == "skipped" and skipped.trigger == "schedule"
    assert skipped.error == f"skipped: run {first.id} is still running (overlap: skip)"
    assert skipped.to_dict()["scheduled_for"] == "2026-05-04T12:00:02Z"
    assert queued_job_ids(redis_server) == [first.job_id]  # nothing enqueued for the skip
    # The task still follows the run that runs, before and after it ends.
    assert db.session.get(Task, task_id).last_status == "running"
    update_task_status(first.id, "success")
    db.session.expire_all()
    assert db.session.get(Task, task_id).last_status == "success"


def test_overlap_allow_enqueues_anyway(db_app, redis_server):
    from webapp.runs.state import update_task_status
    from webapp.scheduling.fire import fire_task

    task_id = due_task(overlap="allow")
    fire_task(task_id, NOW)
    update_task_status(runs_of(task_id)[0].id, "running")
    assert fire_task(task_id, NOW + timedelta(seconds=2)) == "queued"
    assert [r.status for r in runs_of(task_id)] == ["running", "queued"]
    assert len(queued_job_ids(redis_server)) == 2


def test_overlap_queue_holds_one_run_and_releases_it_when_the_active_one_ends(db_app, redis_server):
    from webapp.runs.state import update_task_status
    from webapp.scheduling.fire import fire_task, release_held_runs

    task_id = due_task(overlap="queue")
    fire_task(task_id, NOW)
    first = runs_of(task_id)[0]
    update_task_status(first.id, "running")
    assert fire_task(task_id, NOW + timedelta(seconds=2)) == "held"
    assert fire_task(task_id, NOW + timedelta(seconds=4)) == "skipped"
    _, held, skipped = runs_of(task_id)
    assert (held.status, held.held) == ("queued", True)
    assert skipped.error == f"skipped: run {held.id} is already waiting (overlap: queue)"
    assert release_held_runs() == 0 and queued_job_ids(redis_server) == [first.job_id]
    update_task_status(first.id, "success")  # its end releases the held run at once
    assert queued_job_ids(redis_server) == [first.job_id, held.job_id]
    assert runs_of(task_id)[1].held is False
    assert release_held_runs() == 0


@pytest.mark.parametrize("disabled,paused", [(True, False), (False, True)], ids=["disabled", "paused"])
def test_disabled_or_paused_tasks_only_advance(db_app, redis_server, disabled, paused):
    from webapp.core.extensions import db
    from webapp.core.models import Task
    from webapp.scheduling.fire import fire_task

    task_id = due_task(enabled=not disabled)
    assert fire_task(task_id, NOW + timedelta(seconds=5), paused=paused) == "advanced"
    assert runs_of(task_id) == [] and queued_job_ids(redis_server) == []
    assert db.session.get(Task, task_id).to_dict()["next_run_at"] == "2026-05-04T12:00:06Z"


def test_pause_and_resume_are_stored_and_resume_passes_over_missed_fires(db_app):
    from webapp.core.extensions import db
    from webapp.core.models import Task
    from webapp.scheduling.pause import (
        pause_scheduler,
        resume_scheduler,
        scheduler_paused,
    )

    task_id = due_task(next_run_at=datetime.now(UTC) - timedelta(hours=1))
    assert not scheduler_paused()
    status = pause_scheduler(by="admin")
    assert status["paused"] is True and status["by"] == "admin" and scheduler_paused()
    assert pause_scheduler()["by"] == "admin"  # idempotent: the first pause stands
    status = resume_scheduler(by="admin")
    assert status["paused"] is False and not scheduler_paused()
    next_run_at = db.session.get(Task, task_id).next_run_at
    assert next_run_at.replace(tzinfo=UTC) > datetime.now(UTC)


# --- invalid schedules through the API --------------------------------------------------------

@pytest.mark.parametrize("fields,field", [
    ({"schedule": {"type": "cron", "expr": "61 * * * *"}}, "schedule.expr"),
    ({"schedule": {"type": "cron", "expr": "0 0 30 2 *"}}, "schedule.expr"),
    ({"schedule": {"type": "cron", "expr": "0 2 * * * *"}}, "schedule.expr"),
    ({"schedule": {"type": "cron", "expr": "0 2 * * *"}, "timezone": "Mars/Olympus"}, "timezone"),
    ({"schedule": {"type": "interval", "seconds": 0}}, "schedule.seconds"),
    ({"schedule": {"type": "once", "at": "soon"}}, "schedule.at"),
    ({"schedule": {"type": "weekly"}}, "schedule.type"),
    ({"misfire": "burst"}, "misfire"),
    ({"overlap": "sometimes"}, "overlap"),
], ids=["cron-minute-61", "cron-never", "cron-six-fields", "zone", "interval-0", "once-at", "type",
        "misfire", "overlap"])
def test_invalid_schedule_fields_are_400_naming_the_field(client, fields, field):
    body = {"name": "nightly", "kind": "shell", "config": {"command": "true"}, **fields}
    response = client.post("/api/tasks", json=body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["field"] == field
    assert client.get("/api/tasks").get_json()["tasks"] == []


def test_misfire_is_part_of_the_task(client):
    response = client.post("/api/tasks", json={"name": "n", "kind": "shell", "config": {"command": "true"},
                                               "schedule": {"type": "interval", "seconds": 60}})
    assert response.status_code == 201 and response.get_json()["misfire"] == "run_once"
    task_id = response.get_json()["id"]
    patched = client.patch(f"/api/tasks/{task_id}", json={"misfire": "skip"})
    assert patched.status_code == 200 and patched.get_json()["misfire"] == "skip"


# --- the scheduler process's tick and leadership (in-process) --------------------------------

def test_one_leader_at_a_time_and_a_lost_lock_is_noticed(redis_server):
    from worker.scheduler import LEADER_KEY, Scheduler

    redis_server.client().delete(LEADER_KEY)
    a, b = Scheduler(redis_server.client()), Scheduler(redis_server.client())
    assert a.hold_leadership() and not b.hold_leadership()
    assert a.hold_leadership() and not b.hold_leadership()  # renewing keeps it
    redis_server.client().delete(LEADER_KEY)  # as if a's TTL ran out while it stalled
    assert b.hold_leadership()
    assert not a.hold_leadership() and b.hold_leadership()
    redis_server.client().delete(LEADER_KEY)


def test_a_broken_task_does_not_stop_the_others_or_spin_the_loop(db_app, redis_server, caplog):
    from webapp.core.extensions import db
    from webapp.core.models import Task
    from worker.scheduler import TICK_SECONDS, Scheduler

    now = datetime.now(UTC)
    broken = due_task(schedule=cron("0 2 * * *"), next_run_at=now - timedelta(seconds=1))
    db.session.execute(db.update(Task).where(Task.id == broken).values(timezone="Nowhere/Atlantis"))
    db.session.commit()
    # Hourly, so a slow second tick (a loaded machine) does not find it due again.
    fine = due_task(schedule={"type": "interval", "seconds": 3600}, next_run_at=now - timedelta(seconds=1))
    scheduler = Scheduler(redis_server.client())
    assert scheduler.tick() == TICK_SECONDS  # retried once a tick, not at once
    assert scheduler.tick() == TICK_SECONDS
    assert [r.status for r in runs_of(fine)] == ["queued"] and runs_of(broken) == []
    failures = [r for r in caplog.records if f"task {broken}: fire failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info  # logged once, with the traceback


@pytest.mark.parametrize("raw,grace", [("", 300.0), ("0", 0.0), ("3600", 3600.0)])
def test_misfire_grace_comes_from_the_environment(raw, grace):
    from worker.scheduler import settings_from_env

    assert settings_from_env({"TASKPULSE_MISFIRE_GRACE": raw}).misfire_grace == grace


@pytest.mark.parametrize("raw", ["-1", "soon", "nan"])
def test_a_bad_misfire_grace_is_refused(raw):
    from worker.scheduler import settings_from_env

    with pytest.raises(ValueError):
        settings_from_env({"TASKPULSE_MISFIRE_GRACE": raw})
