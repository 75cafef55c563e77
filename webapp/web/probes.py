"""The operators' endpoints: ``/healthz`` (liveness), ``/readyz`` (readiness) and
``/metrics`` (Prometheus). None of them is under ``/api``: probes and scrapers call them
at the root of the mount."""
from __future__ import annotations

from flask import Response, current_app, jsonify

from webapp.access.auth import Unauthorized, current_principal
from webapp.core.errors import ApiError
from webapp.metrics import exposition, health


def _principal_or_none():
    """The caller, or None (a bad Authorization header counts as nobody here)."""
    try:
        return current_principal()
    except ApiError:
        return None


def healthz():
    """Liveness: 200 while this process answers, whatever Redis and the database do (a
    supervisor restarting a web process because Redis is down would only add an outage)."""
    return jsonify({"ok": True})


def readyz():
    """Readiness: 200 ``{"status": "ok", "checks": {...}}`` when the database, Redis, a
    worker and a scheduler leader are all there, else 503 ``{"status": "fail", "failing":
    [...], "checks": {...}}``. Strangers see which checks fail; signed-in callers also
    see why (reasons can name hosts)."""
    ready, checks = health.readiness()
    if _principal_or_none() is None:
        checks = {name: "ok" if value == "ok" else "fail" for name, value in checks.items()}
    body = {"status": "ok" if ready else "fail", "checks": checks}
    if not ready:
        body["failing"] = sorted(name for name, value in checks.items() if value != "ok")
    return jsonify(body), 200 if ready else 503


def metrics():
    """Prometheus text format; needs a Bearer token (or any sign-in) of any role unless
    ``TASKPULSE_METRICS_PUBLIC=1``."""
    if not current_app.config.get("METRICS_PUBLIC"):
        try:
            principal = current_principal()
        except ApiError as exc:
            return _refused(exc)
        if principal is None:
            return _refused(Unauthorized("send a Bearer token (any role) to read /metrics"))
    return Response(exposition.cached_render(), mimetype=None, content_type=exposition.CONTENT_TYPE)


def _refused(exc: ApiError):
    response = jsonify(exc.to_dict())
    response.headers["WWW-Authenticate"] = 'Bearer realm="taskpulse"'
    return response, exc.status
