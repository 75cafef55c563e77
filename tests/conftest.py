"""Fixtures: a Flask app for fast unit tests, and the real system for the claims
(a private redis-server, the Socket.IO server and a forking rq worker as processes)."""
from __future__ import annotations

import base64
import itertools
import os
import zlib

import pytest

from tests.support.live_client import LiveClient
from tests.support.processes import ADMIN, RedisServer, Stack

ADMIN_FOR_UNIT_TESTS = ADMIN


def strict() -> bool:
    """True under CI and ``make test``: whatever the suite needs must be there, or the
    suite fails; nothing it needs is skipped."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes") or \
        os.environ.get("TASKPULSE_TESTS_STRICT") == "1"


# Left out of the PostgreSQL pass: SQLite's own file or locks, a test that brings its
# own PostgreSQL cluster, or one about the pages alone (contrast, layout, keys): on
# PostgreSQL they would only run the same thing twice.
FIRST_PASS_ONLY = ("sqlite_only", "own_cluster", "pages_only", "own_databases")
# A test on the machine's PostgreSQL whatever the suite's database runs the same twice,
# and so does one that never asks for the suite's database (its stack keeps SQLite).
OWN_DATABASE_FIXTURES = {"postgres_url"}
SUITE_DATABASE_FIXTURE = "database_url"


# The web server's async modes other than the default: what they change is the server,
# whatever the database, so the PostgreSQL pass runs the stack tests in eventlet only.
OTHER_ASYNC_MODES = ("threading", "gevent")


def _first_pass_only(item) -> bool:
    if any(item.get_closest_marker(name) for name in FIRST_PASS_ONLY):
        return True
    fixtures = set(getattr(item, "fixturenames", ()))
    if OWN_DATABASE_FIXTURES & fixtures or SUITE_DATABASE_FIXTURE not in fixtures:
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("stack") in OTHER_ASYNC_MODES


def pytest_collection_modifyitems(config, items):
    """Leave out (deselect, not skip) the tests marked ``sqlite_only``, ``own_cluster``,
    ``pages_only`` or ``own_databases``, those on the ``postgres_url`` fixture or not on
    the suite's database, and the stack tests in threading and gevent mode, when the
    suite runs on PostgreSQL."""
    if not os.environ.get("TASKPULSE_TEST_DATABASE_URL"):
        return
    left_out = [item for item in items if _first_pass_only(item)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not _first_pass_only(item)]


@pytest.fixture(scope="module")
def receiver():
    """A real HTTP receiver on loopback for alert deliveries (one per test module)."""
    from tests.support.receiver import Receiver

    made = Receiver()
    yield made
    made.server.shutdown()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A private redis-server on a free port for the whole session."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def app(tmp_path, redis_server):
    """A Flask app on a fresh SQLite file, using the private Redis (unit tests)."""
    from webapp import create_app
    from webapp.access import users
    from webapp.core.extensions import db

    app = create_app({
        "TESTING": True,
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "LOGIN_USER_RATE_LIMIT": "1000 per minute",
        # Unit tests create users constantly; scrypt would dominate their time.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'unit.db'}",
        "REDIS_URL": redis_server.url,
        "ASYNC_MODE": "threading",
        # The tests drive the credential sweep themselves; the notice that sweeps at
        # once is proved with real processes (tests/e2e/test_socket_credentials.py).
        "CREDENTIAL_NOTICES": False,
    })
    with app.app_context():
        db.create_all()
        users.create_user(*ADMIN_FOR_UNIT_TESTS[:1], "admin", ADMIN_FOR_UNIT_TESTS[1])
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client that signs every request with the admin's Basic credentials."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = basic_auth(*ADMIN_FOR_UNIT_TESTS)
    return client


def basic_auth(user: str, password: str) -> str:
    """An ``Authorization`` header value for HTTP Basic."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _fresh_postgres_database(base: str, suffix: str):
    """Create a fresh database beside the one ``base`` names; return (url, drop)."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(base)
    name = f"taskpulse_test_{os.getpid()}_{suffix}"
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="module")
def database_url(request):
    """None (each stack gets its own SQLite file), or, when TASKPULSE_TEST_DATABASE_URL
    names a PostgreSQL database, a fresh database beside it for this test module (as
    on SQLite, modules do not see each other's tasks and users)."""
    base = os.environ.get("TASKPULSE_TEST_DATABASE_URL")
    if not base:
        yield None
        return
    url, drop = _fresh_postgres_database(base, f"m{zlib.crc32(request.module.__name__.encode())}")
    yield url
    drop()


@pytest.fixture(scope="module")
def postgres_url():
    """A fresh PostgreSQL database for tests that need one whatever the suite's database
    (several processes on several "hosts" share it). The machine's PostgreSQL is named by
    TEST_POSTGRES_URL; a test that needs it fails, clearly, when it is not there."""
    base = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        url, drop = _fresh_postgres_database(base, "shared")
    except Exception as exc:
        pytest.fail(f"this test needs PostgreSQL at {base} (set TEST_POSTGRES_URL): {exc}")
    yield url
    drop()


_STACKS = itertools.count()


def _start_stack(tmp_path_factory, redis_server, database_url, async_mode: str,
                 extra_env: dict[str, str] | None = None) -> Stack:
    """A started Stack with a database of its own: a SQLite file, or a fresh PostgreSQL
    database beside ``database_url`` (a module's stacks in each async mode create the
    same task names); ``stack.stop()`` drops it. A test module may set ``STACK_ENV``
    (a dict) for its stacks' environment."""
    workdir = tmp_path_factory.mktemp(f"stack-{async_mode}")
    redis_server.client().flushdb()
    drop = None
    if database_url:
        database_url, drop = _fresh_postgres_database(database_url, f"s{next(_STACKS)}")
    stack = Stack(redis_server, workdir, async_mode=async_mode, database_url=database_url,
                  extra_env=extra_env)
    if drop is not None:
        stack.cleanups.append(drop)
    return start_or_report(stack)


def start_or_report(stack: Stack) -> Stack:
    """Start ``stack``; if it cannot start, print its processes' logs and stop them."""
    try:
        return stack.start()
    except Exception:
        print(stack.logs())
        stack.stop()
        raise


@pytest.fixture(scope="module", params=["eventlet", "threading", "gevent"])
def stack(request, tmp_path_factory, redis_server, database_url):
    """The live system in each async mode, served as the README deploys it (eventlet:
    ``python wsgi.py``; threading and gevent: gunicorn), plus a forking rq worker."""
    stack = _start_stack(tmp_path_factory, redis_server, database_url, request.param,
                         getattr(request.module, "STACK_ENV", None))
    yield stack
    stack.stop()
    if request.session.testsfailed:
        print(stack.logs())


@pytest.fixture(scope="module")
def eventlet_stack(tmp_path_factory, redis_server, database_url):
    """The live system in the default (eventlet) mode only."""
    stack = _start_stack(tmp_path_factory, redis_server, database_url, "eventlet")
    yield stack
    stack.stop()


@pytest.fixture
def live_client_factory():
    """Make connected LiveClients; all are disconnected at the end of the test."""
    made: list[LiveClient] = []

    def make(url: str, room: str = "tasks", transports: list[str] | None = None) -> LiveClient:
        client = LiveClient(url, room, transports).connect()
        made.append(client)
        return client

    yield make
    for client in made:
        client.disconnect()


@pytest.fixture
def unique_name(request) -> str:
    """A task name unique to this test (tests share one stack per module)."""
    return f"{request.node.name}-{os.getpid()}"[:180]


