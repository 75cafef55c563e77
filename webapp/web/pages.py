"""Server-rendered pages and the route that serves npm-installed front-end packages."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)

from webapp.access import audit
from webapp.access.auth import current_principal, login_url
from webapp.alerts import channels, outbox, watchdog
from webapp.core.errors import ApiError
from webapp.core.extensions import db
from webapp.core.models import Task, TaskRun
from webapp.core.queries import runs_of_task
from webapp.live import events, panels, snapshot, stats
from webapp.runs import chain_links, groups, pools
from webapp.scheduling import pause
from webapp.secrets import vault

bp = Blueprint("pages", __name__)

# Front-end packages that may be served from node_modules, and the files they expose.
VENDOR_FILES = {
    "socket.io-client": {"dist/socket.io.esm.min.js", "dist/socket.io.esm.min.js.map"},
    "uplot": {"dist/uPlot.esm.js", "dist/uPlot.min.css"},
}
HISTORY_PAGE_RUNS = 25  # runs on the history page's first page and per "Older" click
ALERTS_PAGE_ROWS = 100  # deliveries the alerts page shows (newest first)


def page_login_required(role: str = "viewer") -> Callable:
    """Pages send strangers to the sign-in form and answer 403 to a role too low."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            try:
                principal = current_principal()
            except ApiError:
                principal = None
            if principal is None:
                return redirect(login_url(request.full_path.rstrip("?")))
            if not principal.can(role):
                abort(403)
            g.taskpulse_user = principal
            return view(*args, **kwargs)

        return wrapper

    return decorate


@bp.get("/")
def index():
    """The scheduler is the home page."""
    return redirect(url_for("taskpulse.pages.scheduler"))


@bp.get("/scheduler")
@page_login_required()
def scheduler():
    """The live scheduler page: rendered with the current rows and the head seq it
    starts replaying from."""
    head = events.head_seq()
    return render_template(
        "taskpulse/scheduler.html",
        rows=snapshot.task_rows(),
        head_seq=head,
        # Read after the head: events in between are both in the panels and replayed,
        # and the page skips those its panels already show (docs/protocol.md).
        panels=panels.panels(),
        scheduler=pause.scheduler_status(),
        alerts=watchdog.current_badges(),
        queues=pools.queue_report(),
        concurrency=groups.limits(),
        channel_names=[c.name for c in channels.list_channels()],
        socketio_module_url=_socketio_module_url(),
        api_base=_api_base(),
    )


def _socketio_module_url() -> str:
    return url_for("taskpulse.pages.vendor", package="socket.io-client", filename="dist/socket.io.esm.min.js")


def _api_base() -> str:
    return url_for("taskpulse.api.list_tasks").rstrip("/").rsplit("/", 1)[0]


@bp.get("/runs/<id:run_id>")
@page_login_required()
def run_detail(run_id: int):
    """One run: its header (status, times, progress) and its output, followed live
    through rooms ``run:<id>`` (lines) and ``task:<task_id>`` (status)."""
    head = events.head_seq()
    run = db.session.get(TaskRun, run_id)
    if run is None:
        abort(404)
    task = db.session.get(Task, run.task_id)
    if task is None:
        abort(404)
    return render_template(
        "taskpulse/run.html",
        run=run.to_dict(),
        task=task.to_dict(),
        parent=chain_links.parent_of(run),
        children=chain_links.children_of(run.id),
        head_seq=head,
        socketio_module_url=_socketio_module_url(),
        api_base=_api_base(),
    )


@bp.get("/tasks/<id:task_id>/history")
@page_login_required()
def task_history(task_id: int):
    """A task's runs, newest first and growing live, with a chart of their durations
    and outcomes and the success rate."""
    head = events.head_seq()
    task = db.session.get(Task, task_id)
    if task is None:
        abort(404)
    runs = runs_of_task(task_id, HISTORY_PAGE_RUNS)
    return render_template(
        "taskpulse/history.html",
        task=task.to_dict(),
        runs=[run.to_dict() for run in runs],
        page_size=HISTORY_PAGE_RUNS,
        stats=stats.task_stats(task_id),
        head_seq=head,
        socketio_module_url=_socketio_module_url(),
        chart_module_url=url_for("taskpulse.pages.vendor", package="uplot", filename="dist/uPlot.esm.js"),
        chart_css_url=url_for("taskpulse.pages.vendor", package="uplot", filename="dist/uPlot.min.css"),
        api_base=_api_base(),
    )


@bp.get("/audit")
@page_login_required("admin")
def audit_log():
    """Who did what: the audit log, growing live through room ``audit``."""
    entries = audit.recent(200)
    return render_template(
        "taskpulse/audit.html",
        entries=entries,
        head=entries[0]["id"] if entries else 0,
        socketio_module_url=_socketio_module_url(),
    )


@bp.get("/alerts")
@page_login_required()
def alerts_page():
    """Alert channels (admins edit; everyone sees names and masked URLs) and, for
    operators and admins, the outbox's deliveries, growing and changing live through
    room ``notifications``."""
    see_outbox = g.taskpulse_user.can("operator")
    return render_template(
        "taskpulse/alerts.html",
        channels=[c.to_dict() for c in channels.list_channels()],
        deliveries=outbox.recent(ALERTS_PAGE_ROWS) if see_outbox else [],
        outbox_head=outbox.head() if see_outbox else 0,
        cap=current_app.config["ALERT_CAP"],
        window=current_app.config["ALERT_WINDOW"],
        socketio_module_url=_socketio_module_url(),
        api_base=_api_base(),
    )


@bp.get("/secrets")
@page_login_required("admin")
def secrets_page():
    """The secrets (admins): names and when who changed them, a form to set one, and
    delete buttons; never a value."""
    return render_template("taskpulse/secrets.html",
                           secrets=[row.to_dict() for row in vault.list_secrets()],
                           api_base=_api_base())


@bp.get("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str):
    """Serve an allow-listed file of a package installed by ``npm ci``."""
    if filename not in VENDOR_FILES.get(package, ()):
        abort(404)
    root = current_app.config["NODE_MODULES"]
    return send_from_directory(f"{root}/{package}", filename, max_age=3600)
