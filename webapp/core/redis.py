"""This app's Redis connection (RQ, live output, leader and pause state): one pool per
app and process, from ``REDIS_URL`` (``redis://`` or ``redis+sentinel://``)."""
from __future__ import annotations

from flask import current_app
from redis import Redis

from webapp.core import redis_urls


def redis_connection() -> Redis:
    """This app's Redis connection for RQ (one pool per app and process)."""
    ext = current_app.extensions.setdefault("taskpulse", {})
    if "redis" not in ext:
        ext["redis"] = redis_urls.connect(current_app.config["REDIS_URL"])
    return ext["redis"]
