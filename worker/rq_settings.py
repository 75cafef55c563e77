"""RQ settings for ``rq worker -c worker.rq_settings`` and ``rq info -c worker.rq_settings``:
RQ's connection from ``REDIS_URL``, whether a ``redis://`` or a ``redis+sentinel://`` URL.

``rq --url`` only takes the URLs redis-py's ``from_url`` does; RQ reads a Sentinel set-up
from a settings module only, so one command line serves both kinds through this module.
RQ reads ``REDIS_URL`` first and ``SENTINEL`` when it is None, and ``QUEUES``
(``TASKPULSE_WORKER_QUEUES``) when the command line names no queue.
"""
from __future__ import annotations

from typing import Any

from webapp.core.config import Config, worker_queues
from webapp.core.logs import log_format
from webapp.core.redis_urls import rq_settings
from webapp.core.secret_key import InsecureSecretKey, check_secret_key

# RQ imports this module as the worker starts: a worker with a placeholder SECRET_KEY
# stops here with one sentence, as the web process and the scheduler do.
try:
    check_secret_key()
    _queues = worker_queues()
except (InsecureSecretKey, ValueError) as exc:
    raise SystemExit(f"taskpulse worker: {exc}") from None
# ... and so does one with an unknown TASKPULSE_LOG_FORMAT (before RQ logs anything).
log_format()

# Config, so the default URL is the one every other Taskpulse process uses.
_settings: dict[str, Any] = rq_settings(Config().REDIS_URL)

REDIS_URL: str | None = _settings.get("REDIS_URL")
# The queues `rq worker -c worker.rq_settings` serves when its command line names none.
QUEUES: list[str] = _queues
SENTINEL: dict[str, Any] | None = _settings.get("SENTINEL")
