"""The JSON API under /api. Errors are ``{"error": {"code", "message", "field"?}}``."""
from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import HTTPException

from webapp.access import audit, users
from webapp.access.auth import authorize, current_principal, requires
from webapp.core.errors import ApiError, NotFound, ValidationError
from webapp.core.extensions import db
from webapp.core.models import TaskRun
from webapp.core.queries import runs_of_task
from webapp.core.timeutil import iso, parse_iso, utcnow
from webapp.live import events, panels, stats
from webapp.runs import dispatch
from webapp.scheduling import pause
from webapp.scheduling.cron import preview, validate_schedule, zone
from webapp.tasks import store

bp = Blueprint("api", __name__, url_prefix="/api")
_DIGITS = re.compile(r"[0-9]{1,19}")


@bp.before_request
def _signed_in():
    """Every API call needs a signed-in caller; views that change things ask for more."""
    authorize("viewer")


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    response = jsonify(exc.to_dict())
    if exc.status == 401:
        # Bearer, not Basic: a browser must not pop up its own password dialog.
        response.headers["WWW-Authenticate"] = 'Bearer realm="taskpulse"'
    return response, exc.status


def _actor() -> str:
    principal = current_principal()
    return principal.username if principal else "?"


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    body = {"error": {"code": (exc.name or "error").lower().replace(" ", "_"), "message": exc.description}}
    return jsonify(body), exc.code


def json_http_error(exc: HTTPException):
    """Errors under /api are JSON even when no API route matched (404, 405)."""
    if not request.path.startswith("/api/"):
        return exc
    return _http_error(exc)


def _json_body() -> Any:
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # absurdly deep nesting: refuse it like any bad JSON
        data = None
    if data is None:
        raise ValidationError("the body must be JSON (Content-Type: application/json)")
    return data


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
        raise ValidationError(f"must be a whole number from {low} to {high}", name)
    return int(raw)


@bp.get("/tasks")
@requires("viewer")
def list_tasks():
    """All tasks."""
    return jsonify({"tasks": [t.to_dict() for t in store.list_tasks()]})


@bp.post("/tasks")
@requires("admin")
def create_task():
    """Create a task; 201 with the task."""
    task = store.create_task(_json_body(), actor=_actor())
    return jsonify(task.to_dict()), 201


@bp.get("/tasks/<id:task_id>")
@requires("viewer")
def get_task(task_id: int):
    """One task."""
    return jsonify(store.get_task(task_id).to_dict())


@bp.patch("/tasks/<id:task_id>")
def update_task(task_id: int):
    """Change some fields of a task: operators may only enable or disable it."""
    authorize("operator")  # the least any change needs, checked before reading the body
    body = _json_body()
    only_enabling = isinstance(body, dict) and body and set(body) <= {"enabled"}
    authorize("operator" if only_enabling else "admin")
    return jsonify(store.update_task(task_id, body, actor=_actor()).to_dict())


@bp.delete("/tasks/<id:task_id>")
@requires("admin")
def delete_task(task_id: int):
    """Delete a task and its runs."""
    store.delete_task(task_id, actor=_actor())
    return "", 204


@bp.post("/tasks/<id:task_id>/run")
@requires("operator")
def run_task(task_id: int):
    """Run Now: 202 with ``{"run_id", "job_id", "status": "queued"}``, or ``"status":
    "failed"`` with ``"error"`` when a switch refuses the task's kind (the run ended
    failed, seen live as a task_update). The body is optional: ``{"params": {...}}``
    gives the run's parameter values (400 naming ``params.<name>``, nothing queued)."""
    params = None
    if request.get_data(cache=True).strip():  # no body (or an empty one): the defaults
        body = _json_body()
        if not isinstance(body, dict):
            raise ValidationError("the body must be a JSON object")
        unknown = sorted(set(body) - {"params"})
        if unknown:
            raise ValidationError(f"unknown field {unknown[0][:40]!r}", unknown[0][:40])
        params = body.get("params")
    result = dispatch.dispatch(task_id, "manual", params)
    audit.log_run(_actor(), "run", task_id, result["run_id"])
    return jsonify(result), 202


@bp.get("/tasks/<id:task_id>/runs")
@requires("viewer")
def task_runs(task_id: int):
    """The task's runs, newest first (``limit``, ``before`` run id for paging)."""
    store.get_task(task_id)
    limit = _int_arg("limit", 50, 1, 500)
    before = _int_arg("before", 0, 0, 2**62) if request.args.get("before") is not None else None
    runs = runs_of_task(task_id, limit, before)
    return jsonify({"runs": [r.to_dict() for r in runs]})


@bp.get("/runs/<id:run_id>")
@requires("viewer")
def get_run(run_id: int):
    """One run, with its kept output tail."""
    run = db.session.get(TaskRun, run_id)
    if run is None:
        raise NotFound(f"no run with id {run_id}")
    return jsonify(run.to_dict(with_output=True))


@bp.post("/runs/<id:run_id>/stop")
@requires("operator")
def stop_run(run_id: int):
    """Stop a running run (202: ``stopped`` follows as a task_update) or cancel a
    queued/retrying one (200, ``canceled``); 409 when it has ended."""
    result = dispatch.stop_run(run_id)
    run = db.session.get(TaskRun, run_id)
    audit.log_run(_actor(), "stop", run.task_id if run else 0, run_id)
    return jsonify(result), 202 if result["status"] == "running" else 200


@bp.get("/tasks/<id:task_id>/stats")
@requires("viewer")
def task_stats(task_id: int):
    """Success rate, counts by status and the durations of the task's last ``limit`` runs."""
    store.get_task(task_id)
    return jsonify(stats.task_stats(task_id, _int_arg("limit", stats.DEFAULT_RUNS, 1, 1000)))


@bp.get("/panels")
@requires("viewer")
def scheduler_panels():
    """The scheduler page's panels (running runs, recent activity, statistics)."""
    return jsonify(panels.panels())


@bp.get("/events")
@requires("viewer")
def list_events():
    """Events after ``since`` (all tasks), oldest first, for scripts and audits."""
    since = _int_arg("since", 0, 0, 2**62)
    limit = _int_arg("limit", 500, 1, 5000)
    return jsonify({"head": events.head_seq(), "events": events.replay("tasks", since, limit)})


@bp.get("/schedule/preview")
@requires("viewer")
def schedule_preview():
    """The next fire times of a cron or interval schedule, without saving anything."""
    tz = request.args.get("timezone", "UTC")
    zone(tz)
    if "cron" in request.args:
        try:
            schedule = validate_schedule({"type": "cron", "expr": request.args["cron"]})
        except ValidationError as exc:
            raise ValidationError(exc.message, "cron") from None
    elif "interval" in request.args:
        schedule = validate_schedule(
            {"type": "interval", "seconds": _int_arg("interval", 0, 1, 366 * 86400)}
        )
    else:
        raise ValidationError("give cron=<expr> or interval=<seconds>", "cron")
    after = utcnow()
    if request.args.get("after"):
        try:
            after = parse_iso(request.args["after"])
        except ValueError:
            raise ValidationError("must be an ISO-8601 instant", "after") from None
    count = _int_arg("count", 5, 1, 50)
    return jsonify({"fires": [iso(f) for f in preview(schedule, tz, after, count)]})


@bp.get("/scheduler")
@requires("viewer")
def scheduler_status():
    """The global pause and the leading scheduler."""
    return jsonify(pause.scheduler_status())


@bp.post("/scheduler/pause")
@requires("operator")
def pause_scheduler():
    """Stop scheduled fires everywhere (Run Now still works)."""
    return jsonify(pause.set_paused(True, by=_actor()))


@bp.post("/scheduler/resume")
@requires("operator")
def resume_scheduler():
    """Resume scheduled fires (no catch-up burst for fires passed while paused)."""
    return jsonify(pause.set_paused(False, by=_actor()))


@bp.get("/users")
@requires("admin")
def list_users():
    """All users (admins only)."""
    return jsonify({"users": users.list_users()})


@bp.post("/users")
@requires("admin")
def create_user():
    """Create a user; the answer carries the password once when it was generated."""
    body = _json_body()
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object")
    user, password = users.create_user(body.get("username"), body.get("role", "viewer"),
                                       body.get("password"), actor=_actor())
    answer = user.to_dict()
    if body.get("password") is None:
        answer["password"] = password
    return jsonify(answer), 201


@bp.get("/audit")
@requires("admin")
def list_audit():
    """The audit log, newest first (``before`` an entry id for paging)."""
    before = request.args.get("before")
    limit = _int_arg("limit", 100, 1, 1000)
    return jsonify({"entries": audit.recent(limit, _int_arg("before", 0, 0, 2**62) if before else None)})
