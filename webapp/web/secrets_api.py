"""The secrets part of the JSON API (on the ``api`` blueprint), admins only: names and
dates out, values in, never a value out (design.md, "Parameters, environment and
secrets")."""
from __future__ import annotations

from flask import jsonify

from webapp.access.auth import requires
from webapp.core.errors import ValidationError
from webapp.secrets import vault
from webapp.web.api import _actor, _json_body, bp


@bp.get("/secrets")
@requires("admin")
def list_secrets():
    """Every secret's name and dates: ``{"secrets": [{"name", ...}]}``, no values."""
    return jsonify({"secrets": [s.to_dict() for s in vault.list_secrets()]})


@bp.put("/secrets/<string:name>")
@requires("admin")
def put_secret(name: str):
    """Set a secret from ``{"value": "..."}``: 201 when new, 200 when replaced; the
    answer names it and holds no value."""
    vault.check_name(name)
    body = _json_body()
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object {\"value\": \"...\"}")
    unknown = sorted(set(body) - {"value"})
    if unknown:
        raise ValidationError(f"unknown field {unknown[0][:40]!r}", unknown[0][:40])
    row, created = vault.set_secret(name, body.get("value"), actor=_actor())
    return jsonify(row.to_dict()), 201 if created else 200


@bp.delete("/secrets/<string:name>")
@requires("admin")
def delete_secret(name: str):
    """Delete a secret (204); 404 when there is none."""
    vault.check_name(name)
    vault.delete_secret(name, actor=_actor())
    return "", 204
