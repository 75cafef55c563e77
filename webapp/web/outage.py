"""While the database is away (a restart, a failover): every Taskpulse route answers
at once with a 503 that says so, JSON under ``/api`` (``database_unavailable``) and a
small page elsewhere, instead of a 500 or a hang. The connect and pool timeouts that
make it quick are in :func:`webapp.core.config.engine_options`."""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, render_template, request
from markupsafe import escape
from sqlalchemy.exc import DBAPIError

from webapp.core.db_retry import is_outage
from webapp.core.errors import DatabaseUnavailable
from webapp.core.extensions import db

log = logging.getLogger(__name__)

MESSAGE = "the database is unavailable right now; try again in a few seconds"
RETRY_AFTER_SECONDS = 5


def _unavailable(exc: DBAPIError):
    """The 503 for an outage; any other database error is raised again, and stays the
    500 it was (a bug to see, not an outage to wait out)."""
    if not is_outage(exc):
        raise exc
    try:
        db.session.rollback()
    except Exception:  # the connection is gone: the rollback has nothing to undo
        pass
    log.warning("%s %s: database unavailable (%s)", request.method, request.path,
                str(exc.orig or exc).splitlines()[0][:200])
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if _wants_json():
        return jsonify(DatabaseUnavailable(MESSAGE).to_dict()), 503, headers
    try:
        body = render_template("taskpulse/unavailable.html", message=MESSAGE)
    except Exception:  # the page must not depend on anything else that may be away
        body = f"<!doctype html><title>Database unavailable</title><p>{escape(MESSAGE)}</p>"
    return body, 503, headers


def _wants_json() -> bool:
    """API routes (and clients that ask for JSON only) get JSON; pages get HTML."""
    if (request.blueprint or "").endswith(".api") or "/api/" in request.path:
        return True
    return request.accept_mimetypes.best == "application/json"


def install(bp: Blueprint) -> None:
    """Answer outages on every route of Taskpulse's blueprint (pages, API, probes)."""
    bp.register_error_handler(DBAPIError, _unavailable)
