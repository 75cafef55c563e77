"""Tasks as code (on the ``api`` blueprint): ``GET /api/export`` (any signed-in role: a
viewer sees every task already) and ``POST /api/import`` (admins; the YAML is the body,
``Content-Type: application/yaml``; ``?dry_run=1`` answers the diff and changes nothing,
``?prune=1`` deletes the tasks the file does not name). The file format is
:mod:`webapp.tasks.yaml_io`; what an import does, :mod:`webapp.tasks.sync`."""
from __future__ import annotations

from flask import Response, jsonify, request

from webapp.access.auth import requires
from webapp.core.errors import ValidationError
from webapp.tasks import sync, yaml_io
from webapp.web.api import _actor, bp

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
YAML_MIMETYPE = "application/yaml"
_TRUE, _FALSE = ("1", "true", "yes"), ("", "0", "false", "no")


def _flag(name: str) -> bool:
    raw = request.args.get(name, "").strip().lower()
    if raw not in _TRUE + _FALSE:
        raise ValidationError("must be 1 or 0", name)
    return raw in _TRUE


@bp.get("/export")
@requires("viewer")
def export_tasks():
    """Every task as YAML (no secret values, no ids or run state), sorted by name."""
    response = Response(sync.export_text(), mimetype=YAML_MIMETYPE)
    response.headers["Content-Disposition"] = 'inline; filename="taskpulse-tasks.yaml"'
    return response


@bp.post("/import")
@requires("admin")
def import_tasks():
    """Import a tasks file: 200 with ``{"created", "updated", "unchanged", "refused",
    "pruned"}``; a refused task (or a file that is not a list of tasks) is a 400 and
    nothing is written."""
    dry_run, prune = _flag("dry_run"), _flag("prune")
    if request.mimetype not in YAML_TYPES:
        raise ValidationError("the body must be YAML (Content-Type: application/yaml)", "body")
    raw = request.get_data(cache=False)  # at most MAX_CONTENT_LENGTH bytes (413 beyond)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("the body must be UTF-8 text", "body") from None
    specs = yaml_io.load(text)
    _, answer = sync.import_tasks(specs, _actor(), dry_run=dry_run, prune=prune)
    return jsonify({**answer, "dry_run": dry_run})
