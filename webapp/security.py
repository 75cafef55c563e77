"""Response hardening: security headers on every response, JSON 413 for big bodies."""
from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, request

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
    if request.is_secure:
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
