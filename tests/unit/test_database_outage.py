"""The database away, in one process: the API's JSON 503, the pages' 503, a refused
Socket.IO connect or subscribe that names the database, and the engine options that
make it quick on PostgreSQL. The whole system meeting a real PostgreSQL outage is
tests/e2e/test_postgres_outage.py."""
from __future__ import annotations

import time

import pytest
import socketio as python_socketio
from sqlalchemy.exc import IntegrityError, OperationalError

from tests.conftest import ADMIN_FOR_UNIT_TESTS, basic_auth
from tests.support.processes import free_port
from webapp.core.config import engine_options


@pytest.fixture
def away_app(redis_server):
    """An app whose database is a PostgreSQL URL on a port where nothing listens."""
    from webapp import create_app

    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "unit-test-secret-key-0123456789abcdef",
        "SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/away",
        "REDIS_URL": redis_server.url,
        "ASYNC_MODE": "threading",
    })
    yield app
    with app.app_context():
        from webapp.core.extensions import db

        db.engine.dispose()


def test_api_answers_json_503_at_once(away_app):
    client = away_app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = basic_auth(*ADMIN_FOR_UNIT_TESTS)
    for method, path in [("GET", "/api/tasks"), ("POST", "/api/tasks/1/run"), ("GET", "/api/events?since=0")]:
        started = time.monotonic()
        response = client.open(path, method=method, json={} if method == "POST" else None)
        assert time.monotonic() - started < 2
        assert response.status_code == 503, (path, response.data)
        assert response.json["error"]["code"] == "database_unavailable"
        assert "database" in response.json["error"]["message"]
        assert response.headers["Retry-After"]


def test_pages_answer_a_small_503_page(away_app):
    client = away_app.test_client()
    with client.session_transaction() as session:  # a browser signed in before the outage
        session["user_id"] = 1
    response = client.get("/scheduler")
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert b"Database unavailable" in response.data
    assert client.get("/healthz").status_code == 200  # liveness does not need the database


def test_socket_connect_is_refused_naming_the_database(away_app):
    from webapp.core.extensions import socketio
    from webapp.web import sockets

    socketio.init_app(away_app, client_manager=python_socketio.Manager(), async_mode="threading")
    sockets.register(socketio)
    client = socketio.test_client(away_app, headers={"Authorization": basic_auth(*ADMIN_FOR_UNIT_TESTS)})
    assert not client.is_connected()


def test_subscribe_is_refused_naming_the_database(socket_client, monkeypatch):
    from webapp.live import events

    def away(*_args, **_kwargs):
        raise OperationalError("SELECT max(seq)", {}, Exception("connection refused"))

    monkeypatch.setattr(events, "head_seq", away)
    ack = socket_client.emit("subscribe", {"room": "tasks", "since": None}, callback=True)
    assert ack["ok"] is False
    assert ack["error"].startswith("database unavailable") and "try again in" in ack["error"]
    assert socket_client.is_connected()  # the page keeps its connection
    monkeypatch.undo()
    assert socket_client.emit("subscribe", {"room": "tasks", "since": None}, callback=True)["ok"] is True


def test_other_database_errors_stay_500(app, client, monkeypatch):
    from webapp.tasks import store

    def broken(*_args, **_kwargs):
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    monkeypatch.setattr(store, "list_tasks", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/api/tasks")
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_server_error"


def test_engine_options_bound_waits_on_postgresql_only():
    tuned = engine_options("postgresql+psycopg://u@db/x", {"pool_pre_ping": True}, 3, 4)
    assert tuned["pool_timeout"] == 4 and tuned["pool_pre_ping"] is True
    assert tuned["connect_args"]["connect_timeout"] == 3
    assert tuned["connect_args"]["keepalives"] == 1
    # What the operator set wins.
    own = engine_options("postgresql://u@db/x", {"pool_timeout": 30, "connect_args": {"connect_timeout": 10}})
    assert own["pool_timeout"] == 30 and own["connect_args"]["connect_timeout"] == 10
    assert engine_options("sqlite:///x.db", {"pool_pre_ping": True}) == {"pool_pre_ping": True}


def test_a_background_loop_says_a_database_outage_once_until_it_is_back(caplog):
    import logging

    from sqlalchemy.exc import OperationalError

    from webapp.core.db_retry import LoopErrors

    errors = LoopErrors(logging.getLogger("loop-test"), "the test loop")
    outage = OperationalError("select 1", {}, Exception("connection refused"))
    with caplog.at_level(logging.INFO, logger="loop-test"):
        for _ in range(3):
            try:
                raise outage
            except OperationalError as exc:
                errors.failed(exc)
        errors.succeeded()
        try:
            raise ValueError("a bug")
        except ValueError as exc:
            errors.failed(exc)
    messages = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert messages == [
        ("WARNING", "the test loop: the database is unavailable (OperationalError); trying again", False),
        ("INFO", "the test loop: the database is back", False),
        ("ERROR", "the test loop failed", True),
    ]


def test_a_connection_cut_after_a_read_does_not_fail_the_close(redis_server, postgres_url):
    # A work horse reads its run, then PostgreSQL goes down before the block ends: the
    # read stands, and the close (whose rollback finds the connection cut) is not an error.
    import psycopg
    from sqlalchemy import text

    from webapp import create_app
    from webapp.core.db_retry import close_session
    from webapp.core.extensions import db

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": postgres_url.replace(
        "postgresql://", "postgresql+psycopg://", 1), "REDIS_URL": redis_server.url, "ASYNC_MODE": "threading"})
    with app.app_context():
        backend = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        close_session()
        assert db.session.execute(text("SELECT 1")).scalar() == 1  # a new connection
        db.engine.dispose()
