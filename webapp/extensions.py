"""Unbound extensions, bound to an app in ``create_app``."""
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base shared by all models."""


db = SQLAlchemy(model_class=Base)
socketio = SocketIO()
