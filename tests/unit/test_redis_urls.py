"""REDIS_URL as a redis:// or a redis+sentinel:// URL, turned into what redis-py, RQ, the
rate limiter and python-socketio's message queue each take (no Redis needed: building the
clients opens no connection)."""
from __future__ import annotations

import importlib

import pytest
from limits.storage import RedisSentinelStorage, RedisStorage, storage_from_string
from redis.sentinel import SentinelConnectionPool
from rq.cli.helpers import get_redis_from_config
from socketio.redis_manager import parse_redis_sentinel_url

from webapp.core.redis_urls import (
    SentinelURL,
    connect,
    is_sentinel_url,
    limiter_storage,
    parse_sentinel_url,
    rq_settings,
)

FULL = "redis+sentinel://:s3cret@sentinel-a:26379,sentinel-b:26380/2/taskpulse"


def test_parses_sentinels_db_service_and_password():
    assert parse_sentinel_url(FULL) == SentinelURL(
        sentinels=(("sentinel-a", 26379), ("sentinel-b", 26380)),
        service_name="taskpulse", db=2, username=None, password="s3cret")


@pytest.mark.parametrize("url, expected", [
    ("redis+sentinel://10.0.0.1:26379/0/mymaster", SentinelURL((("10.0.0.1", 26379),), "mymaster")),
    ("redis+sentinel://10.0.0.1:26379//mymaster", SentinelURL((("10.0.0.1", 26379),), "mymaster")),
    ("REDIS+SENTINEL://alice:pw@h:1/3/svc", SentinelURL((("h", 1),), "svc", 3, "alice", "pw")),
])
def test_parses_the_optional_parts(url, expected):
    assert parse_sentinel_url(url) == expected


@pytest.mark.parametrize("url", [
    FULL,
    "redis+sentinel://h1:1,h2:2,h3:3/0/svc",
    "redis+sentinel://alice:pw@h:1/3/svc",
])
def test_reads_urls_as_the_socketio_message_queue_does(url):
    sentinels, service_name, kwargs = parse_redis_sentinel_url(url)
    ours = parse_sentinel_url(url)
    assert list(ours.sentinels) == sentinels and ours.service_name == service_name
    assert {"db": ours.db, **ours.auth()} == {"db": 0, **kwargs}


@pytest.mark.parametrize("url, message", [
    ("redis://h:6379/0", r"not a redis\+sentinel"),
    ("redis+sentinel://h:26379/0", "no service name"),
    ("redis+sentinel://h:26379", "no service name"),
    ("redis+sentinel://h/0/svc", "host:port"),
    ("redis+sentinel://h:1,:2/0/svc", "host:port"),
    ("redis+sentinel://h:1/zero/svc", "db must be a number"),
    ("redis+sentinel://h:1/0/svc?ssl=true", "no query string"),
])
def test_rejects_what_it_cannot_honour(url, message):
    with pytest.raises(ValueError, match=message):
        parse_sentinel_url(url)


def test_tells_the_kinds_apart():
    assert is_sentinel_url(FULL) and not is_sentinel_url("redis://127.0.0.1:6379/0")
    assert not is_sentinel_url("rediss://h:6380/0")


def test_connect_plain_url_is_from_url():
    client = connect("redis://127.0.0.1:6390/4", socket_timeout=3)
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["port"], kwargs["db"], kwargs["socket_timeout"]) == (6390, 4, 3)


def test_connect_sentinel_url_follows_the_services_master():
    client = connect(FULL, socket_timeout=3)
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "taskpulse"
    assert pool.connection_kwargs["db"] == 2 and pool.connection_kwargs["password"] == "s3cret"
    sentinels = pool.sentinel_manager.sentinels
    assert [s.connection_pool.connection_kwargs["port"] for s in sentinels] == [26379, 26380]
    # The password is the data nodes'; the sentinels get timeouts only.
    assert all(s.connection_pool.connection_kwargs.get("password") is None for s in sentinels)
    assert sentinels[0].connection_pool.connection_kwargs["socket_timeout"] == 3


def test_rq_settings_plain_url():
    assert rq_settings("redis://h:6379/1") == {"REDIS_URL": "redis://h:6379/1"}


def test_rq_settings_sentinel_url_build_rqs_own_sentinel_connection():
    settings = rq_settings(FULL)
    assert settings["SENTINEL"]["INSTANCES"] == [("sentinel-a", 26379), ("sentinel-b", 26380)]
    connection = get_redis_from_config(settings)
    pool = connection.connection_pool
    assert pool.service_name == "taskpulse"
    assert pool.connection_kwargs["db"] == 2 and pool.connection_kwargs["password"] == "s3cret"


def test_rq_settings_module_reads_redis_url(monkeypatch):
    import worker.rq_settings as module

    monkeypatch.setenv("REDIS_URL", FULL)
    importlib.reload(module)
    assert module.REDIS_URL is None and module.SENTINEL["MASTER_NAME"] == "taskpulse"
    monkeypatch.setenv("REDIS_URL", "redis://h:6379/0")
    importlib.reload(module)
    assert module.REDIS_URL == "redis://h:6379/0" and module.SENTINEL is None
    monkeypatch.undo()
    importlib.reload(module)


def test_limiter_storage_plain_url_unchanged():
    assert limiter_storage("redis://h:6379/0") == ("redis://h:6379/0", {})
    assert isinstance(storage_from_string("redis://h:6379/0"), RedisStorage)


def test_limiter_storage_sentinel_url_in_the_form_limits_reads():
    uri, options = limiter_storage(FULL)
    assert uri == "redis+sentinel://sentinel-a:26379,sentinel-b:26380/taskpulse"
    storage = storage_from_string(uri, **options)
    assert isinstance(storage, RedisSentinelStorage) and storage.service_name == "taskpulse"
    assert not storage.use_replicas
    master = storage.storage.connection_pool
    assert master.connection_kwargs["db"] == 2 and master.connection_kwargs["password"] == "s3cret"
    assert all(s.connection_pool.connection_kwargs.get("password") is None
               for s in storage.sentinel.sentinels)


def test_config_translates_the_limiter_store(monkeypatch):
    from webapp.core.config import Config

    monkeypatch.setenv("REDIS_URL", FULL)
    config = Config()
    assert config.REDIS_URL == FULL
    assert (config.RATELIMIT_STORAGE_URI, config.RATELIMIT_STORAGE_OPTIONS) == limiter_storage(FULL)
