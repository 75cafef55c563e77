"""Configuration read from the environment, with embedded defaults for `make run`."""
from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from webapp.core.redis_urls import limiter_storage

ROOT = Path(__file__).resolve().parents[2]  # the checkout: webapp/core/config.py


def _default_database_url() -> str:
    instance = ROOT / "instance"
    return f"sqlite:///{instance / 'taskpulse.db'}"


# A queue name or a tag (a concurrency group): what `rq worker` and a YAML file can
# carry without quoting.
SLUG_PATTERN = r"[A-Za-z0-9_.-]{1,64}"
DEFAULT_QUEUE = "taskpulse"


def worker_queues(env: Mapping[str, str] | None = None) -> list[str]:
    """The queues a worker serves: ``TASKPULSE_WORKER_QUEUES`` (names separated by
    commas or spaces, in the order RQ should look at them), else ``TASKPULSE_QUEUE``.

    Raises:
        ValueError: a name outside ``[A-Za-z0-9_.-]{1,64}``, with the name.
    """
    env = os.environ if env is None else env
    names = [name for name in re.split(r"[,\s]+", env.get("TASKPULSE_WORKER_QUEUES", "")) if name]
    for name in names:
        if not re.fullmatch(SLUG_PATTERN, name):
            raise ValueError(f"TASKPULSE_WORKER_QUEUES: {name[:80]!r} is not a queue name "
                             "(1 to 64 letters, digits, '_', '.' or '-')")
    return list(dict.fromkeys(names)) or [env.get("TASKPULSE_QUEUE", DEFAULT_QUEUE)]


def _proxy_hops(text: str) -> int:
    """TASKPULSE_PROXY_HOPS as a small non-negative integer, or a clear error at start."""
    try:
        hops = int(text.strip())
    except ValueError:
        hops = -1
    if not 0 <= hops <= 5:
        raise ValueError(f"TASKPULSE_PROXY_HOPS must be a whole number from 0 to 5, not {text!r}")
    return hops


class Config:
    """Settings for one Taskpulse process, taken from environment variables.

    Read at construction time (not import time) so tests can set the environment first.
    """

    def __init__(self) -> None:
        env = os.environ
        self.SECRET_KEY = env.get("SECRET_KEY") or secrets.token_hex(32)
        self.SQLALCHEMY_DATABASE_URI = env.get("DATABASE_URL") or _default_database_url()
        self.REDIS_URL = env.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        self.ASYNC_MODE = env.get("ASYNC_MODE", "eventlet")
        origins = env.get("CORS_ALLOWED_ORIGINS", "").strip()
        # None means "same origin only" to python-engineio; never '*' or [].
        self.CORS_ALLOWED_ORIGINS = [o.strip() for o in origins.split(",") if o.strip()] or None
        self.RQ_QUEUE = env.get("TASKPULSE_QUEUE", DEFAULT_QUEUE)
        # Batches of task_update (webapp.live.fanout): a window sized to what a batch
        # costs to send (1), or always the full 100 ms (0, the first release's).
        self.BATCH_ADAPTIVE = env.get("TASKPULSE_BATCH_ADAPTIVE", "1") != "0"
        # Alerts (webapp.alerts): deliveries have a queue of their own, so a busy run
        # queue never delays them; a channel sends at most ALERT_CAP messages in
        # ALERT_WINDOW seconds (more are folded into one summary); a refused delivery
        # is retried after each of ALERT_RETRY_DELAYS seconds, then marked failed.
        self.ALERTS_QUEUE = env.get("TASKPULSE_ALERTS_QUEUE", "taskpulse-alerts")
        self.BASE_URL = env.get("TASKPULSE_BASE_URL", "").rstrip("/")
        self.ALERT_CAP = int(env.get("TASKPULSE_ALERT_CAP", "20"))
        self.ALERT_WINDOW = float(env.get("TASKPULSE_ALERT_WINDOW", "600"))
        # Whether web processes sweep sockets at once on a credentials notice (Redis
        # pub/sub); unit tests turn it off to drive the sweep themselves.
        self.CREDENTIAL_NOTICES = env.get("TASKPULSE_CREDENTIAL_NOTICES", "1") != "0"
        # How often each web process's watchdog looks for late and overrunning tasks
        # (0: never, e.g. a web process that only serves the API).
        self.ALERT_WATCH_SECONDS = float(env.get("TASKPULSE_ALERT_WATCH_SECONDS", "5"))
        self.ALERT_RETRY_DELAYS = [
            int(d) for d in env.get("TASKPULSE_ALERT_RETRY_DELAYS", "10,60,300").split(",") if d.strip()
        ]
        self.PYTHON_ALLOWED_MODULES = [
            m.strip()
            for m in env.get("TASKPULSE_PYTHON_MODULES", "worker.examples").split(",")
            if m.strip()
        ]
        self.SHELL_ENABLED = env.get("TASKPULSE_SHELL_ENABLED", "1") not in ("0", "false", "no")
        # Output kept with each run (the last bytes of it); live lines stream besides.
        self.OUTPUT_TAIL_BYTES = int(env.get("TASKPULSE_OUTPUT_TAIL_BYTES", str(1024 * 1024)))
        # Retention: finished runs (with their output) and events older than this are
        # pruned hourly by the scheduler and by `flask --app wsgi db prune`; 0 keeps all.
        self.RETENTION_DAYS = float(env.get("TASKPULSE_RETENTION_DAYS", "30"))
        # The event log never holds more than this many rows (the newest are kept).
        self.EVENT_LOG_MAX = int(env.get("TASKPULSE_EVENT_LOG_MAX", "1000000"))
        self.REPLAY_LIMIT = int(env.get("TASKPULSE_REPLAY_LIMIT", "1000"))
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        # PostgreSQL away (a restart, a failover, a lost host): how long a new connection
        # may take (libpq's minimum is 2 s), and how long a request waits for a pooled
        # one, so requests fail fast with a 503 instead of hanging (see engine_options).
        self.DB_CONNECT_TIMEOUT = max(2, int(float(env.get("TASKPULSE_DB_CONNECT_TIMEOUT", "2"))))
        self.DB_POOL_TIMEOUT = float(env.get("TASKPULSE_DB_POOL_TIMEOUT", "5"))
        # Only the set-up step (`flask db upgrade`) uses it, to create the first admin:
        # taken out of the environment so nothing this process starts inherits it, and
        # dropped from the config by the long-running processes (drop_setup_secrets).
        self.ADMIN_PASSWORD = env.pop("ADMIN_PASSWORD", None) or None
        # How long a run's state change keeps retrying while the database is away.
        self.DB_RETRY_SECONDS = float(env.get("TASKPULSE_DB_RETRY_SECONDS", "60"))
        # A queued run whose RQ job is gone from Redis this long is queued again.
        self.REQUEUE_AFTER_SECONDS = float(env.get("TASKPULSE_REQUEUE_AFTER_SECONDS", "30"))
        self.PASSWORD_HASH_METHOD = "scrypt"
        # Failed sign-ins: per client address, and per user name from all addresses
        # (one address fills at most a quarter of a name's budget: see webapp.access.auth).
        self.LOGIN_RATE_LIMIT = env.get("TASKPULSE_LOGIN_RATE_LIMIT", "10 per minute")
        self.LOGIN_USER_RATE_LIMIT = env.get("TASKPULSE_LOGIN_USER_RATE_LIMIT", "20 per 10 minutes")
        # Reverse proxies in front whose X-Forwarded-For/Proto/Host are trusted (nginx: 1).
        self.PROXY_HOPS = _proxy_hops(env.get("TASKPULSE_PROXY_HOPS", "0"))
        self.RATELIMIT_STORAGE_URI, self.RATELIMIT_STORAGE_OPTIONS = limiter_storage(self.REDIS_URL)
        self.RATELIMIT_SWALLOW_ERRORS = True
        self.MAX_CONTENT_LENGTH = int(env.get("TASKPULSE_MAX_BODY_BYTES", str(256 * 1024)))
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        # Set TASKPULSE_SECURE_COOKIES=1 when served over TLS (behind a TLS proxy).
        self.SESSION_COOKIE_SECURE = env.get("TASKPULSE_SECURE_COOKIES", "0") in ("1", "true", "yes")
        # /metrics: open to anyone when set (a scraper on a private network), else it
        # needs a Bearer token of any role; figures derived from the database are cached
        # this long per process, so many scrapers cost one set of queries.
        self.METRICS_PUBLIC = env.get("TASKPULSE_METRICS_PUBLIC", "0") in ("1", "true", "yes")
        self.METRICS_CACHE_SECONDS = float(env.get("TASKPULSE_METRICS_CACHE_SECONDS", "5"))
        self.PERMANENT_SESSION_LIFETIME = int(env.get("TASKPULSE_SESSION_HOURS", "12")) * 3600
        # Secrets (webapp.secrets): the Fernet key ring, newest first, comma-separated;
        # or a file holding it (`make run` makes instance/secrets_key), read at each use
        # so that `secrets rotate-key` reaches running processes. Neither: no secrets.
        self.SECRETS_KEY = env.get("TASKPULSE_SECRETS_KEY") or None
        self.SECRETS_KEY_FILE = env.get("TASKPULSE_SECRETS_KEY_FILE") or None

    def as_dict(self) -> dict:
        """The settings as a mapping for ``app.config.from_mapping``."""
        return {k: v for k, v in vars(self).items() if k.isupper()}


def engine_options(url: str, options: dict, connect_timeout: int = 2, pool_timeout: float = 5) -> dict:
    """``options`` (SQLALCHEMY_ENGINE_OPTIONS) with the outage settings for a PostgreSQL
    ``url``; whatever ``options`` already sets wins. Other databases: unchanged.

    libpq's defaults wait for ever on a host that does not answer, and a pooled
    connection to a vanished host is only noticed by TCP's own timeout (minutes): a
    connect timeout, TCP keepalives and a TCP user timeout bound both."""
    if not url.startswith(("postgresql", "postgres:")):
        return options
    tuned = dict(options)
    tuned.setdefault("pool_pre_ping", True)
    tuned.setdefault("pool_timeout", pool_timeout)
    connect_args = {
        "connect_timeout": connect_timeout,
        "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
        "tcp_user_timeout": 30_000,  # ms: unacknowledged writes to a dead host
    }
    connect_args.update(tuned.get("connect_args") or {})
    tuned["connect_args"] = connect_args
    return tuned


def drop_setup_secrets(config: dict) -> None:
    """Forget what only the set-up step needs (ADMIN_PASSWORD): called by the web
    server, the worker and the scheduler, which run for months."""
    config.pop("ADMIN_PASSWORD", None)
