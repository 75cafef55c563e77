"""Concurrency limits on the JSON API (on the ``api`` blueprint): ``GET`` for anyone
signed in, ``PUT`` (the whole map) for admins (design.md, "Queues, chains, groups")."""
from __future__ import annotations

from flask import jsonify

from webapp.access.auth import requires
from webapp.runs import group_settings
from webapp.web.api import _actor, _json_body, bp


@bp.get("/settings/concurrency")
@requires("viewer")
def get_concurrency():
    """``{"concurrency": {"<tag>": n}, "in_use": {"<tag>": runs holding a slot now}}``."""
    return jsonify(group_settings.status())


@bp.put("/settings/concurrency")
@requires("admin")
def put_concurrency():
    """Replace the limits with the body ``{"<tag>": n, ...}`` (1 to 1000 each; ``{}``
    lifts them all); answers as GET does."""
    group_settings.set_limits(_json_body(), actor=_actor())
    return jsonify(group_settings.status())
