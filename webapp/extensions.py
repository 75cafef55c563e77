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


def enable_sqlite_foreign_keys(engine) -> None:
    """SQLite leaves foreign keys off per connection; turn them on so deletes cascade."""
    if engine.dialect.name != "sqlite":
        return

    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
