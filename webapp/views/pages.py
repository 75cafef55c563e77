"""Server-rendered pages and the route that serves npm-installed front-end packages."""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable

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

from .. import audit, events, scheduler_state, snapshot
from ..auth import current_principal
from ..errors import ApiError

bp = Blueprint("pages", __name__)

# Front-end packages that may be served from node_modules, and the files they expose.
VENDOR_FILES = {
    "socket.io-client": {"dist/socket.io.esm.min.js", "dist/socket.io.esm.min.js.map"},
}


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
                return redirect(url_for("auth_pages.login", next=request.full_path.rstrip("?")))
            if not principal.can(role):
                abort(403)
            g.user = principal
            return view(*args, **kwargs)

        return wrapper

    return decorate


@bp.get("/")
def index():
    """The scheduler is the home page."""
    return redirect(url_for("pages.scheduler"))


@bp.get("/scheduler")
@page_login_required()
def scheduler():
    """The live scheduler page: rendered with the current rows and the head seq it
    starts replaying from."""
    head = events.head_seq()
    return render_template(
        "scheduler.html",
        rows=snapshot.task_rows(),
        head_seq=head,
        scheduler=scheduler_state.scheduler_status(),
        socketio_module_url=url_for(
            "pages.vendor", package="socket.io-client", filename="dist/socket.io.esm.min.js"
        ),
        api_base=url_for("api.list_tasks").rstrip("/").rsplit("/", 1)[0],
    )


@bp.get("/audit")
@page_login_required("admin")
def audit_log():
    """Who did what: the audit log, growing live through room ``audit``."""
    entries = audit.recent(200)
    return render_template(
        "audit.html",
        entries=entries,
        head=entries[0]["id"] if entries else 0,
        socketio_module_url=url_for(
            "pages.vendor", package="socket.io-client", filename="dist/socket.io.esm.min.js"
        ),
    )


@bp.get("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str):
    """Serve an allow-listed file of a package installed by ``npm ci``."""
    if filename not in VENDOR_FILES.get(package, ()):
        abort(404)
    root = current_app.config["NODE_MODULES"]
    return send_from_directory(f"{root}/{package}", filename, max_age=3600)
