"""Fixtures for the unit tests: helpers on top of the root ``app``/``client`` fixtures."""
from __future__ import annotations

from typing import Any

import pytest
import socketio as python_socketio

from tests.support.processes import free_port


@pytest.fixture
def make_task(app):
    """Store a Task straight through the models and return its id."""
    from webapp.core.extensions import db
    from webapp.core.models import Task

    counter = {"n": 0}

    def make(**fields: Any) -> int:
        counter["n"] += 1
        values = {
            "name": f"task-{counter['n']}",
            "kind": "shell",
            "config": {"command": "echo hi"},
            "timeout": 60,
        }
        values.update(fields)
        with app.app_context():
            task = Task(**values)
            db.session.add(task)
            db.session.commit()
            return task.id

    return make


@pytest.fixture
def closed_redis_url() -> str:
    """A Redis URL on a local port where nothing listens."""
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def clean_redis(redis_server):
    """The private Redis, emptied (run ids restart at 1 in every fresh database)."""
    client = redis_server.client()
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def socket_client(app):
    """A Flask-SocketIO test client connected to ``app``.

    The test client refuses a message queue, so the app's Socket.IO server is rebuilt
    here with an in-process manager (test-side wiring only; product code untouched),
    and the handlers are registered on it as ``create_app`` does.
    """
    from webapp.core.extensions import socketio
    from webapp.web import sockets

    socketio.init_app(app, client_manager=python_socketio.Manager(), async_mode="threading")
    sockets.register(socketio)
    from tests.conftest import ADMIN_FOR_UNIT_TESTS, basic_auth

    client = socketio.test_client(app, headers={"Authorization": basic_auth(*ADMIN_FOR_UNIT_TESTS)})
    assert client.is_connected()
    yield client
    if client.is_connected():
        client.disconnect()
