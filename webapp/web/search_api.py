"""Search through stored run output (on the ``api`` blueprint):
``GET /api/runs/search?q=<text>&task=<id>&limit=50``, any signed-in role."""
from __future__ import annotations

from flask import jsonify, request

from webapp.access.auth import requires
from webapp.core.errors import NotFound, ValidationError
from webapp.core.extensions import db
from webapp.core.models import Task
from webapp.runs import search
from webapp.web.api import _DIGITS, _int_arg, bp


@bp.get("/runs/search")
@requires("viewer")
def search_runs():
    """Runs whose stored output or error contains ``q`` (case-insensitive), newest first:
    ``{"runs": [{"run_id", "task_id", "task_name", "status", "finished_at", "excerpt"}]}``."""
    text = request.args.get("q", "")
    if not 1 <= len(text) <= search.MAX_QUERY_CHARS:
        raise ValidationError(f"give the text to search for, 1 to {search.MAX_QUERY_CHARS} characters", "q")
    task_id = None
    raw = request.args.get("task")
    if raw is not None and raw != "":
        if not _DIGITS.fullmatch(raw) or len(raw) > 18:
            raise ValidationError("must be a task id", "task")
        task_id = int(raw)
        if db.session.get(Task, task_id) is None:
            raise NotFound(f"no task with id {task_id}", "task")
    limit = _int_arg("limit", 50, 1, search.MAX_LIMIT)
    return jsonify({"runs": search.search_runs(text, task_id, limit)})
