"""Embedded mode's sign-in: the host app says who is signed in and with which Taskpulse
role; Taskpulse keeps a user row per host user, for roles, the audit log and sockets."""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from webapp.core.extensions import db
from webapp.core.models import ROLES, User

log = logging.getLogger(__name__)

# Where an app keeps what it knows about its Taskpulse (set when Taskpulse is mounted).
EXTENSION_KEY = "taskpulse_mount"
# What the host's hook returns: (username, role) for its signed-in user, or None.
HostUser = tuple[str, str] | None


@dataclass(frozen=True)
class HostLogin:
    """How an embedding app signs its users in to Taskpulse.

    ``current_user`` runs inside the host's request (pages, API, Socket.IO handshake) and
    maps the host's signed-in user to ``(username, role)`` with role one of viewer,
    operator, admin; None means not signed in (or no access). ``login_url`` is where
    pages send strangers (``?next=`` is added); ``logout_url`` is linked from the top bar.
    """

    current_user: Callable[[], HostUser]
    login_url: str | None = None
    logout_url: str | None = None


@dataclass(frozen=True)
class Mounted:
    """What an app knows about its Taskpulse: where it is and who signs users in."""

    url_prefix: str
    host_login: HostLogin | None
    standalone: bool

    @property
    def socketio_path(self) -> str:
        """Engine.IO's path, under the prefix (no leading slash, as Flask-SocketIO wants)."""
        return f"{self.url_prefix.strip('/')}/socket.io".lstrip("/")


def mounted(app: Flask | None = None) -> Mounted:
    """The Taskpulse settings of ``app`` (the current app by default)."""
    return (app or current_app).extensions[EXTENSION_KEY]


def host_user(login: HostLogin) -> User | None:
    """The Taskpulse user for the host's signed-in user (made on first sight, role kept
    in step with the host), or None when nobody is signed in or the role is unknown."""
    answer = login.current_user()
    if not answer:
        return None
    username, role = answer
    if role not in ROLES or not isinstance(username, str) or not username.strip():
        log.warning("host login hook returned %r: not a (username, role) pair; no access", answer)
        return None
    username = username.strip()[:80]
    user = db.session.execute(select(User).where(User.username == username)).scalar()
    if user is None:
        # No password: host users sign in through the host. A random one keeps the
        # column's format for code that checks passwords.
        user = User(username=username, role=role, active=True,
                    password_hash=generate_password_hash(secrets.token_urlsafe(32),
                                                         method="pbkdf2:sha256:1000"))
        db.session.add(user)
        try:
            db.session.commit()
        except IntegrityError:  # the same user's other first request made it meanwhile
            db.session.rollback()
            user = db.session.execute(select(User).where(User.username == username)).scalar_one()
        else:
            log.info("host user %s seen first, role %s", username, role)
    elif user.role != role:
        log.info("host user %s: role %s -> %s (from the host)", username, user.role, role)
        user.role = role
        db.session.commit()
    return user if user.active else None
