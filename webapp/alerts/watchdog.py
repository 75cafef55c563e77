"""The watchdog: a loop in every web process that writes late and overrun alerts, shows
each watched task's badge live, tells pages which run queues have a live worker
(``worker_queues``), and re-queues outbox rows whose delivery never got queued.

It runs in the web process, not the scheduler, so a dead scheduler or an idle worker
pool is noticed. Several web processes run it together; each alert's key (task and
the last start before it, or the run) is unique in the outbox, so the first process
to write it wins and the others' writes are refused by the database.
"""
from __future__ import annotations

import logging
import weakref
from datetime import datetime
from typing import Any

from flask import Flask

from webapp.alerts import outbox, watch
from webapp.alerts.incidents import page_link, run_link
from webapp.alerts.outbox import Alert
from webapp.core.db_retry import LoopErrors
from webapp.core.extensions import db, socketio
from webapp.core.timeutil import as_utc, iso, utcnow
from webapp.live import events
from webapp.live.names import ALL_TASKS_ROOM, TASK_ALERTS, WORKER_QUEUES
from webapp.runs import pools
from webapp.scheduling import pause

log = logging.getLogger(__name__)

EXTENSION_KEY = "taskpulse_watchdog"
DEADLINE_SLACK = 0.05  # seconds after a deadline to look, so it has passed
MIN_PAUSE = 0.2  # never look more often than this


def ensure_started(app: Flask) -> bool:
    """Start this process's watchdog for ``app`` once; False when it is switched off
    (``TASKPULSE_ALERT_WATCH_SECONDS=0``) or already running."""
    if app.extensions.get(EXTENSION_KEY) or not app.config.get("ALERT_WATCH_SECONDS"):
        return False
    app.extensions[EXTENSION_KEY] = {"badges": {}}
    # A weak reference, so the loop ends with its app (tests build many apps).
    socketio.start_background_task(_watch_forever, weakref.ref(app))
    return True


def _watch_forever(app_ref: "weakref.ref[Flask]") -> None:
    errors = LoopErrors(log, "alert watchdog")
    while True:
        app = app_ref()
        if app is None:
            return
        seconds = float(app.config["ALERT_WATCH_SECONDS"])
        state = app.extensions[EXTENSION_KEY]
        try:
            with app.app_context():
                try:
                    tick(state)
                finally:
                    db.session.remove()
            errors.succeeded()
        except Exception as exc:  # the database or Redis may be away; look again next time
            errors.failed(exc)
        del app
        socketio.sleep(_pause(seconds, state.get("next_deadline")))


def _pause(seconds: float, deadline: datetime | None) -> float:
    """Until the next look: the interval, or less when a task becomes late or a run
    overruns sooner (so an alert is not up to an interval behind its deadline)."""
    if deadline is None:
        return seconds
    until = (deadline - utcnow()).total_seconds() + DEADLINE_SLACK
    return max(MIN_PAUSE, min(seconds, until))


def tick(state: dict[str, Any]) -> dict[int, str]:
    """One look: write the alerts due, send the badges if they changed, re-queue
    stranded deliveries. Returns the badges (``state`` keeps them and the next deadline)."""
    now = utcnow()
    upcoming: list[datetime] = []
    marks, lates, overrunning = watch.badges(now, pause.scheduler_paused(), upcoming)
    state["next_deadline"] = min(upcoming) if upcoming else None
    alerts = [_late_alert(item, now) for item in lates] + [_overrun_alert(item, now) for item in overrunning]
    channels = {alert.key: list(item.task.notify["channels"]) for alert, item in zip(alerts, lates + overrunning)}
    db.session.rollback()  # what was read is copied out; end the read before writing
    for alert in alerts:
        rows = outbox.add(alert, channels[alert.key])
        if rows:
            log.info("task %s: %s alert written to %d channel(s)", alert.task_id, alert.kind, len(rows))
    outbox.requeue_stranded()
    if marks != state.get("badges"):
        state["badges"] = marks
        publish_badges(marks)
    queues = pools.queue_report()
    if queues is not None and queues != state.get("queues"):
        state["queues"] = queues
        events.emit(WORKER_QUEUES, {"queues": queues}, ALL_TASKS_ROOM, about="worker queues", local=True)
    return marks


def publish_badges(marks: dict[int, str]) -> None:
    """Tell this process's own clients in room ``tasks`` every task's badge (each web
    process tells its own, as the seq beacon does)."""
    events.emit(TASK_ALERTS, {"alerts": {str(k): v for k, v in marks.items()}},
                ALL_TASKS_ROOM, about="task alerts", local=True)


def current_badges() -> dict[str, str]:
    """The badges as a page or a snapshot shows them (task id as a string -> badge)."""
    marks, _, _ = watch.badges(utcnow(), pause.scheduler_paused())
    db.session.rollback()
    return {str(k): v for k, v in marks.items()}


def _late_alert(item: watch.Late, now: datetime) -> Alert:
    task = item.task
    waited = int((now - item.due).total_seconds())
    lines = [
        f"Due: {iso(item.due)} (no run started {waited} s later; late after "
        f"{int(task.notify.get('late_after', 60))} s)",
        f"Last start: {iso(item.since_start) or 'never'}",
        "Likely: the scheduler is down or paused on its host, no worker serves the "
        "task's queue, or the queue has a backlog.",
        f"Task page: {page_link(f'/tasks/{task.id}/history')}",
    ]
    started = int(item.since_start.timestamp()) if item.since_start else 0
    return Alert(kind="late", title=f"Taskpulse: {task.name} is late", body="\n".join(lines),
                 task_id=task.id, key=f"late:{task.id}:{started}")


def _overrun_alert(item: watch.Overrun, now: datetime) -> Alert:
    run = item.run
    lines = [
        f"Run: {run.id} ({run.trigger})",
        "Status: running (it keeps running)",
        f"Attempt: {run.attempt} of {run.max_attempts}",
        f"Duration: {(now - as_utc(run.started_at)).total_seconds():.1f} s so far "
        f"(limit {item.limit:.1f} s)",
        f"Run page: {run_link(run.id)}",
    ]
    return Alert(kind="overrun", title=f"Taskpulse: {item.task.name} is overrunning",
                 body="\n".join(lines), task_id=item.task.id, run_id=run.id, key=f"overrun:run:{run.id}")
