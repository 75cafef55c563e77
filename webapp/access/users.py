"""Users and API tokens: create, change, issue and revoke."""
from __future__ import annotations

import re
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from webapp.access import audit, revocations
from webapp.access.auth import token_digest
from webapp.core.errors import Conflict, NotFound, ValidationError
from webapp.core.extensions import db
from webapp.core.models import ROLES, ApiToken, User
from webapp.core.timeutil import utcnow

_USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,80}")
MIN_PASSWORD = 10
TOKEN_PREFIX = "tp_"


def hash_password(password: str) -> str:
    """A salted, deliberately slow hash (scrypt unless PASSWORD_HASH_METHOD says)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError(f"must be at least {MIN_PASSWORD} characters", "password")


def get_user(username: str) -> User:
    """The user with this name, or NotFound."""
    user = db.session.execute(select(User).where(User.username == username)).scalar()
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def list_users() -> list[dict]:
    """Every user, by name."""
    return [u.to_dict() for u in db.session.execute(select(User).order_by(User.username)).scalars()]


def create_user(username: str, role: str, password: str | None = None,
                actor: str = "system") -> tuple[User, str]:
    """Create a user; a strong password is generated when none is given.

    Returns the user and the password (to show once). Raises ValidationError or Conflict.
    """
    if not isinstance(username, str) or not _USERNAME.fullmatch(username):
        raise ValidationError("1-80 letters, digits or . _ @ -", "username")
    if role not in ROLES:
        raise ValidationError(f"must be one of {', '.join(ROLES)}", "role")
    password = password if password is not None else secrets.token_urlsafe(15)
    _check_password(password)
    if db.session.execute(select(User.id).where(User.username == username)).first():
        raise Conflict(f"a user named {username!r} already exists", "username")
    user = User(username=username, role=role, password_hash=hash_password(password))
    db.session.add(user)
    db.session.flush()
    entry = audit.record(actor, "create", "user", user.id, username, {"role": [None, role]})
    db.session.commit()
    audit.publish(entry)
    return user, password


def set_password(username: str, password: str) -> None:
    """Change a password; sessions signed in with the old one stop working."""
    _check_password(password)
    get_user(username).password_hash = hash_password(password)
    db.session.commit()
    revocations.announce(f"password of {username} changed")


def issue_token(username: str, label: str = "", expires_in: timedelta | None = None) -> str:
    """Make a Bearer token for a user, refused after ``expires_in`` when given; only its
    digest is stored, so show it once."""
    user = get_user(username)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + expires_in if expires_in is not None else None
    db.session.add(ApiToken(user_id=user.id, token_hash=token_digest(token), label=label[:80],
                            expires_at=expires_at))
    db.session.commit()
    return token


def revoke_tokens(username: str) -> int:
    """Revoke every live token of a user; returns how many."""
    user = get_user(username)
    tokens = db.session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).scalars().all()
    for token in tokens:
        token.revoked_at = utcnow()
    db.session.commit()
    if tokens:
        revocations.announce(f"tokens of {username} revoked")
    return len(tokens)


def ensure_admin(password: str | None) -> str | None:
    """On first run (no users), create ``admin``: with ``password`` (ADMIN_PASSWORD) or a
    generated one, which is returned so it can be printed once. None if users exist."""
    if db.session.execute(select(User.id).limit(1)).first():
        return None
    _, used = create_user("admin", "admin", password or None)
    return None if password else used
