"""The Flask app a worker-side process (worker, work horse, scheduler, ``rq info``) uses.

Built once per process and inherited by forked work horses, so a job pays nothing for it.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from webapp.core.db_retry import close_session

_app: Flask | None = None


def app() -> Flask:
    """This process's Taskpulse app, with a write-only emitter (threading, no eventlet)."""
    global _app
    if _app is None:
        from webapp import create_app

        _app = create_app({"ASYNC_MODE": "threading"})
    return _app


@contextmanager
def app_context() -> Iterator[Flask]:
    """Run the block inside the app's context; the DB session is closed on exit, also
    when the database has just dropped its connection (``close_session``)."""
    with app().app_context() as ctx:
        try:
            yield ctx.app
        finally:
            close_session()
