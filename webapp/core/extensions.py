"""Unbound extensions, bound to an app in ``create_app``."""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base shared by all models."""


db = SQLAlchemy(model_class=Base)
socketio = SocketIO()
# Limits only what is decorated (sign-in); storage is Redis, set from the config.
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def tune_sqlite(engine) -> None:
    """Per-connection SQLite settings: foreign keys on (so deletes cascade); WAL with
    synchronous=NORMAL, so the web, workers and schedulers can read while one writes and
    a commit costs no fsync of the main file (still durable across a process crash)."""
    if engine.dialect.name != "sqlite":
        return

    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
