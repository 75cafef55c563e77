"""``GET /api/openapi.json``: the OpenAPI 3.1 document of every ``/api`` route, assembled
from the maintained descriptions in ``openapi_paths`` (operations) and
``openapi_schemas`` (shapes, errors, sign-in), with the server URL of this mount. The
docs page (``/docs/api``, ``openapi_docs``) is rendered from the same document."""
from __future__ import annotations

import copy
from typing import Any

from flask import jsonify, url_for

from webapp.access.auth import requires
from webapp.web.api import bp
from webapp.web.openapi_paths import PATHS
from webapp.web.openapi_schemas import RESPONSES, SCHEMAS, SECURITY_SCHEMES

VERSION = "2"  # the API's version: the second release's


def api_base() -> str:
    """The API's base path under this mount (``/api``, or ``/prefix/api``)."""
    return url_for("taskpulse.api.list_tasks").rstrip("/").rsplit("/", 1)[0]


def document(base: str = "/api") -> dict[str, Any]:
    """The OpenAPI 3.1 document, with ``base`` as its one server."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Taskpulse API",
            "version": VERSION,
            "summary": "Tasks, runs, schedules, users and alerts of a Taskpulse scheduler.",
            "description": "Every answer is JSON. Errors are {\"error\": {\"code\", \"message\", \"field\"?}} "
                           "with a 4xx (or 503) status, and nothing is half-written. Live state changes "
                           "come over Socket.IO (docs/protocol.md), not from polling these routes.",
        },
        "servers": [{"url": base}],
        "security": [{"session": []}, {"bearer": []}, {"basic": []}],
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": copy.deepcopy(PATHS),
        "components": {"schemas": copy.deepcopy(SCHEMAS), "responses": copy.deepcopy(RESPONSES),
                       "securitySchemes": copy.deepcopy(SECURITY_SCHEMES)},
    }


TAGS = {
    "tasks": "Task definitions (admins edit; operators enable and disable).",
    "runs": "Running, stopping and reading runs, and searching their output.",
    "live": "The event log and the scheduler page's panels.",
    "scheduling": "Schedule previews and the global pause.",
    "users": "Users and the audit log (admins).",
    "alerts": "Alert channels and the outbox.",
    "meta": "This document.",
}


@bp.get("/openapi.json")
@requires("viewer")
def openapi_json():
    """This API's OpenAPI 3.1 document."""
    return jsonify(document(api_base()))
