"""Response hardening: security headers on every response (HSTS when served over TLS),
JSON 413 for big bodies, and which reverse proxies' X-Forwarded-* headers to believe."""
from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.middleware.proxy_fix import ProxyFix

# No 'unsafe-inline' anywhere: the page is ES modules and a stylesheet, data in data-*.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    # Behind a TLS proxy the request itself looks like plain HTTP; TASKPULSE_SECURE_COOKIES=1
    # is the operator saying the site is HTTPS-only, so browsers must never use http://.
    if request.is_secure or current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _too_large(exc):
    limit = request.max_content_length
    return jsonify({"error": {"code": "too_large",
                              "message": f"the request body is over {limit} bytes"}}), 413


def install(target: Flask | Blueprint) -> None:
    """Add the headers and the 413 handler to an app (standalone), or to Taskpulse's
    blueprint only (embedded: the host's pages keep their own)."""
    target.after_request(_headers)
    target.register_error_handler(413, _too_large)


def trust_proxies(app: Flask) -> None:
    """With ``PROXY_HOPS`` (TASKPULSE_PROXY_HOPS) = n > 0, take the client address, scheme
    and host from the last n proxies' X-Forwarded-For/Proto/Host, so sign-in limits count
    each client rather than the proxy. Wraps the whole WSGI app (Socket.IO included), so
    call it after the Socket.IO middleware is in place. 0 believes no header: a client
    could otherwise name any address it likes."""
    hops = app.config.get("PROXY_HOPS", 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
