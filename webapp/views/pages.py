"""Server-rendered pages and the route that serves npm-installed front-end packages."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, send_from_directory, url_for

from .. import events, snapshot

bp = Blueprint("pages", __name__)

# Front-end packages that may be served from node_modules, and the files they expose.
VENDOR_FILES = {
    "socket.io-client": {"dist/socket.io.esm.min.js", "dist/socket.io.esm.min.js.map"},
}


@bp.get("/")
def index():
    """The scheduler is the home page."""
    return redirect(url_for("pages.scheduler"))


@bp.get("/scheduler")
def scheduler():
    """The live scheduler page: rendered with the current rows and the head seq it
    starts replaying from."""
    head = events.head_seq()
    return render_template(
        "scheduler.html",
        rows=snapshot.task_rows(),
        head_seq=head,
        socketio_module_url=url_for(
            "pages.vendor", package="socket.io-client", filename="dist/socket.io.esm.min.js"
        ),
        api_base=url_for("api.list_tasks").rstrip("/").rsplit("/", 1)[0],
    )


@bp.get("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str):
    """Serve an allow-listed file of a package installed by ``npm ci``."""
    if filename not in VENDOR_FILES.get(package, ()):
        abort(404)
    root = current_app.config["NODE_MODULES"]
    return send_from_directory(f"{root}/{package}", filename, max_age=3600)
