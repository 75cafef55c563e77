"""``REDIS_URL`` as each Redis user in Taskpulse needs it: a plain ``redis://`` URL, or a
Redis Sentinel URL ``redis+sentinel://[[user]:password@]host:port[,host:port...]/db/service``.

The Sentinel form is python-socketio's (its message queue reads the same variable). This
module reads it as python-socketio does, and refuses what python-socketio would silently
misread, so the message queue, our own connections, RQ and the rate limiter always reach
the same master: the credentials and the db are the data nodes' (master and replicas);
the sentinels are asked without them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from redis import Redis
from redis.sentinel import Sentinel

SENTINEL_SCHEME = "redis+sentinel"
# Every (re)connection asks the sentinels in turn for the master; one on a dead host must
# cost seconds, not the operating system's TCP timeout.
SENTINEL_SOCKET_TIMEOUT = 2.0
_SENTINEL_SOCKET_OPTIONS = {
    "socket_connect_timeout": SENTINEL_SOCKET_TIMEOUT,
    "socket_timeout": SENTINEL_SOCKET_TIMEOUT,
}


@dataclass(frozen=True)
class SentinelURL:
    """The parts of a ``redis+sentinel://`` URL."""

    sentinels: tuple[tuple[str, int], ...]
    service_name: str
    db: int = 0
    username: str | None = None
    password: str | None = None

    def auth(self) -> dict[str, Any]:
        """The data nodes' credentials as redis-py keyword arguments (only those given)."""
        given = {"username": self.username, "password": self.password}
        return {key: value for key, value in given.items() if value}


def is_sentinel_url(url: str) -> bool:
    """Whether ``url`` names Redis through Sentinel."""
    return urlparse(url).scheme.lower() == SENTINEL_SCHEME


def parse_sentinel_url(url: str) -> SentinelURL:
    """Split a ``redis+sentinel://`` URL into sentinels, service name, db and credentials.

    The password is used as written (python-socketio does not percent-decode it either).

    Raises:
        ValueError: not a Sentinel URL, a sentinel without a port, a db that is not a
            number, no service name, or a query string (python-socketio would ignore it).
    """
    parsed = urlparse(url)
    if parsed.scheme.lower() != SENTINEL_SCHEME:
        raise ValueError(f"not a {SENTINEL_SCHEME}:// URL: {parsed.scheme}://...")
    if parsed.query:
        raise ValueError(f"{SENTINEL_SCHEME} URLs take no query string options")
    sentinels = []
    for location in parsed.netloc.split("@")[-1].split(","):
        host, _, port = location.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"each sentinel needs host:port, not {location!r}")
        sentinels.append((host, int(port)))
    parts = parsed.path.split("/")
    db_part = parts[1] if len(parts) > 1 else ""
    service_name = parts[2] if len(parts) > 2 else ""
    if db_part and not db_part.isdigit():
        raise ValueError(f"the db must be a number, not {db_part!r}")
    if not service_name:
        # python-socketio would fall back to its channel name: never what was meant.
        raise ValueError(f"no service name: expected {SENTINEL_SCHEME}://host:port[,host:port]/db/service_name")
    return SentinelURL(
        sentinels=tuple(sentinels),
        service_name=service_name,
        db=int(db_part) if db_part else 0,
        username=parsed.username or None,
        password=parsed.password or None,
    )


def connect(url: str, **kwargs: Any) -> Redis:
    """A Redis client for ``url``: ``Redis.from_url`` for plain URLs; for Sentinel URLs a
    client of the service's current master, which follows a failover on reconnection.

    ``kwargs`` go to the client's connections; their ``socket_*`` options also to the
    sentinels'.
    """
    if not is_sentinel_url(url):
        return Redis.from_url(url, **kwargs)
    target = parse_sentinel_url(url)
    sentinel_kwargs = dict(_SENTINEL_SOCKET_OPTIONS)
    sentinel_kwargs.update({k: v for k, v in kwargs.items() if k.startswith("socket_")})
    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=sentinel_kwargs, **kwargs)
    return sentinel.master_for(target.service_name, db=target.db, **target.auth())


def rq_settings(url: str) -> dict[str, Any]:
    """RQ's connection settings (``rq ... -c module``) for ``url``: ``REDIS_URL``, or a
    ``SENTINEL`` dict, since ``rq --url`` only takes redis-py's URL schemes."""
    if not is_sentinel_url(url):
        return {"REDIS_URL": url}
    target = parse_sentinel_url(url)
    return {"SENTINEL": {
        "INSTANCES": list(target.sentinels),
        "MASTER_NAME": target.service_name,
        "DB": target.db,
        "USERNAME": target.username,
        "PASSWORD": target.password,
        "SENTINEL_KWARGS": dict(_SENTINEL_SOCKET_OPTIONS),
    }}


def limiter_storage(url: str) -> tuple[str, dict[str, Any]]:
    """Flask-Limiter's ``RATELIMIT_STORAGE_URI`` and ``RATELIMIT_STORAGE_OPTIONS`` for ``url``.

    The ``limits`` library reads ``redis+sentinel://host:port,.../service_name`` (no db in
    the path) and would send the URL's password to the sentinels too, so the db and the
    credentials travel as options instead, and the sentinels get none.
    """
    if not is_sentinel_url(url):
        return url, {}
    target = parse_sentinel_url(url)
    hosts = ",".join(f"{host}:{port}" for host, port in target.sentinels)
    options: dict[str, Any] = {
        "db": target.db,
        **target.auth(),
        "sentinel_kwargs": {**_SENTINEL_SOCKET_OPTIONS, "username": None, "password": None},
        # A failed sign-in counted on the master must be seen by the next check at once;
        # a replica may lag behind it.
        "use_replicas": False,
    }
    return f"{SENTINEL_SCHEME}://{hosts}/{target.service_name}", options
