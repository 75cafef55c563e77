"""Who is asking, and may they? Session cookie (with CSRF), Bearer token, HTTP Basic;
roles viewer < operator < admin."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from functools import wraps
from typing import Any, Callable
from urllib.parse import urlencode

from flask import abort, current_app, g, request, session, url_for
from limits import RateLimitItem
from limits import parse as parse_limit
from sqlalchemy import select
from werkzeug.security import check_password_hash

from webapp.access import revocations
from webapp.access.host_login import host_user, mounted
from webapp.core.errors import ApiError
from webapp.core.extensions import db, limiter
from webapp.core.models import ApiToken, User
from webapp.core.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

ROLE_RANK = {"viewer": 1, "operator": 2, "admin": 3}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Ways of signing in that a browser repeats by itself (cookies), so forgeable cross-site.
COOKIE_VIAS = frozenset({"session", "host"})
CSRF_HEADER = "X-CSRFToken"
# Checked only to burn the same time for unknown users as for known ones.
_DUMMY_HASH = "scrypt:32768:8:1$0000000000000000$" + "0" * 128


class Unauthorized(ApiError):
    """No credentials, or bad ones."""

    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    """Known user, but the role (or a missing CSRF token) does not allow this."""

    status = 403
    code = "forbidden"


class TooManyAttempts(ApiError):
    """Too many failed sign-ins from this address, or for this user name."""

    status = 429
    code = "rate_limited"


@dataclass(frozen=True)
class Principal:
    """An authenticated user and how they proved it."""

    user_id: int
    username: str
    role: str
    via: str  # "session", "token", "basic", or "host" (the embedding app's login)

    def can(self, role: str) -> bool:
        """True when this user's role is ``role`` or above."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


def token_digest(token: str) -> str:
    """What is stored for a Bearer token: its SHA-256 (tokens are long and random)."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_expired(token: ApiToken) -> bool:
    """True once a token's expiry (``users token NAME --expires-in``) has passed."""
    expires_at = as_utc(token.expires_at)
    return expires_at is not None and expires_at <= utcnow()


def _principal(user: User | None, via: str) -> Principal | None:
    if user is None or not user.active:
        return None
    return Principal(user.id, user.username, user.role, via)


def _address_limit() -> RateLimitItem:
    return parse_limit(current_app.config["LOGIN_RATE_LIMIT"])


def _user_limit() -> RateLimitItem:
    return parse_limit(current_app.config["LOGIN_USER_RATE_LIMIT"])


def _share_of_user_limit() -> RateLimitItem:
    """How much of a user name's budget one address may use up: a quarter, over the same
    window. So guessing one name from many addresses is capped, yet no single address
    (an attacker, or everyone behind one NAT) can lock that user out."""
    user = _user_limit()
    return type(user)(max(1, user.amount // 4), user.multiples)


def _name_key(username: str) -> str:
    # Any string may be tried as a name; a digest keeps the store's keys short and tidy.
    return hashlib.sha256(username.encode("utf-8", "replace")).hexdigest()[:32]


def note_failed_login(address: str, username: str) -> None:
    """Count a failed sign-in (form, Basic, or a socket's Basic header) against the
    address's budget and, within that address's share, against the user name's."""
    try:
        limiter.limiter.hit(_address_limit(), "login-failures", address)
        if limiter.limiter.hit(_share_of_user_limit(), "login-failures-pair", address, _name_key(username)):
            limiter.limiter.hit(_user_limit(), "login-failures-user", _name_key(username))
    except Exception:  # the limit store (Redis) is away: sign-in must still work
        log.warning("could not count a failed sign-in from %s", address)


def login_blocked(address: str, username: str | None = None) -> str | None:
    """Why sign-in is refused right now, or None: the address has used up its failed
    sign-ins for the window, or the user name has (from all addresses together)."""
    try:
        if not limiter.limiter.test(_address_limit(), "login-failures", address):
            return "too many failed sign-ins from this address; wait a minute"
        if username is not None and not limiter.limiter.test(_user_limit(), "login-failures-user",
                                                             _name_key(username)):
            return "too many failed sign-ins for this user name; wait a few minutes"
    except Exception:
        return None
    return None


# Scripts send Basic credentials with every request; a slow hash per request would cap
# them at a few requests a second. Remember recent successes briefly, keyed by a digest
# of the credentials and tied to the stored hash (a password change drops them).
_VERIFIED: dict[str, tuple[str, float]] = {}
_VERIFIED_TTL = 60.0
_VERIFIED_MAX = 1024


def check_password(username: str, password: str) -> User | None:
    """The active user with this name and password, else None (constant-ish time)."""
    user = db.session.execute(select(User).where(User.username == username)).scalar()
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        return None
    key = hashlib.sha256(f"{user.id}\0{username}\0{password}".encode()).hexdigest()
    remembered = _VERIFIED.get(key)
    if remembered and remembered[0] == user.password_hash and remembered[1] > time.monotonic():
        return user
    if not check_password_hash(user.password_hash, password):
        return None
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[key] = (user.password_hash, time.monotonic() + _VERIFIED_TTL)
    return user


def credentials_from_header(header: str | None) -> Principal | None:
    """Resolve an ``Authorization`` header (Bearer or Basic).

    Raises:
        Unauthorized: the header is present but malformed or wrong, or names an
            expired token ("token expired").
        TooManyAttempts: this address, or this user name, failed to sign in too often.
    """
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer" and value.strip():
        row = db.session.execute(
            select(ApiToken).where(ApiToken.token_hash == token_digest(value.strip()),
                                   ApiToken.revoked_at.is_(None))
        ).scalar()
        principal = _principal(row.user if row else None, "token")
        if principal is None:
            raise Unauthorized("invalid or revoked token")
        if token_expired(row):
            raise Unauthorized("token expired")
        return principal
    if scheme == "basic":
        address = request.remote_addr or "?"
        try:
            username, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            username = password = None
        blocked = login_blocked(address, username)
        if blocked:
            raise TooManyAttempts(blocked)
        if username is None or password is None:
            raise Unauthorized("malformed Basic credentials")
        principal = _principal(check_password(username, password), "basic")
        if principal is None:
            note_failed_login(address, username)
            raise Unauthorized("wrong user name or password")
        return principal
    raise Unauthorized("unsupported Authorization scheme (use Bearer or Basic)")


def browser_principal() -> Principal | None:
    """The user the browser is signed in as: through the host app's login when
    Taskpulse is embedded with one, else through Taskpulse's session cookie."""
    login = mounted().host_login
    if login is not None:
        return _principal(host_user(login), "host")
    return session_principal()


def login_url(next_path: str) -> str:
    """Where a page sends someone who is not signed in (then back to ``next_path``)."""
    login = mounted().host_login
    if login is None:
        return url_for("taskpulse.auth_pages.login", next=next_path)
    if not login.login_url:
        abort(401)
    separator = "&" if "?" in login.login_url else "?"
    return f"{login.login_url}{separator}{urlencode({'next': next_path})}"


def session_principal() -> Principal | None:
    """The user signed in with Taskpulse's session cookie, if any."""
    user_id = session.get("user_id")
    if not isinstance(user_id, int):
        return None
    user = db.session.get(User, user_id)
    if user is None or session.get("auth_version") != _auth_version(user):
        return None
    return _principal(user, "session")


def _auth_version(user: User) -> str:
    """Changes when the password changes or the user signs out, so older sessions (and
    copies of their cookie) stop working."""
    material = f"{user.password_hash}:{user.session_epoch or 0}:{int(user.active)}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def sign_out_everywhere(user_id: int) -> None:
    """End every session of a user, not just this browser's cookie."""
    user = db.session.get(User, user_id)
    if user is not None:
        user.session_epoch = (user.session_epoch or 0) + 1
        db.session.commit()
        revocations.announce(f"sessions of user {user_id} ended")


def still_valid(principal: Principal, proof: str) -> bool:
    """Re-check a connection's credentials: the user is active, and the token is not
    revoked or the session/password version unchanged (``proof`` from :func:`proof_of`).
    A host app's user is checked by the host on each request; here only that Taskpulse
    has not deactivated them."""
    user = db.session.get(User, principal.user_id)
    if user is None or not user.active:
        return False
    if principal.via == "host":
        return user.role == principal.role
    if principal.via == "token":
        row = db.session.execute(
            select(ApiToken).where(ApiToken.token_hash == proof, ApiToken.revoked_at.is_(None))
        ).scalar()
        return row is not None and not token_expired(row)
    return proof == _auth_version(user)


def proof_of(principal: Principal, header: str | None) -> str:
    """What :func:`still_valid` later compares: the token's digest, or the user's
    current auth version (sessions and Basic)."""
    if principal.via == "token" and header:
        return token_digest(header.partition(" ")[2].strip())
    user = db.session.get(User, principal.user_id)
    return _auth_version(user) if user else ""


def sign_in(user: User) -> None:
    """Start a fresh session for ``user`` (new CSRF token; no session fixation)."""
    session.clear()
    session["user_id"] = user.id
    session["auth_version"] = _auth_version(user)
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True


def current_principal() -> Principal | None:
    """The caller of this request, resolved once per request.

    Raises:
        Unauthorized, TooManyAttempts: bad credentials in an Authorization header.
    """
    if "taskpulse_principal" not in g:
        header = request.headers.get("Authorization")
        g.taskpulse_principal = credentials_from_header(header) if header else browser_principal()
    return g.taskpulse_principal


def csrf_token() -> str:
    """The session's CSRF token (made on first use), for forms and the page's fetches."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def csrf_ok() -> bool:
    """True when a state-changing request carries the session's CSRF token."""
    expected = session.get("csrf")
    given = request.headers.get(CSRF_HEADER) or request.form.get("csrf_token")
    return bool(expected and given and hmac.compare_digest(str(expected), str(given)))


def authorize(role: str) -> Principal:
    """The caller, who must be signed in with at least ``role``.

    Cookie-authenticated requests (Taskpulse's or the host app's session) that change
    state must carry the CSRF token;
    Bearer and Basic requests cannot be forged cross-site, so they need none.

    Raises:
        Unauthorized: not signed in. Forbidden: role too low or CSRF token missing.
    """
    principal = current_principal()
    if principal is None:
        raise Unauthorized("sign in, or send a Bearer token or Basic credentials")
    if principal.via in COOKIE_VIAS and request.method not in SAFE_METHODS and not csrf_ok():
        raise Forbidden("missing or wrong CSRF token (send the X-CSRFToken header)")
    if not principal.can(role):
        raise Forbidden(f"this needs the {role} role; you are {principal.role}")
    return principal


def requires(role: str) -> Callable:
    """Decorator for API views: ``authorize(role)`` before the view runs."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            authorize(role)
            return view(*args, **kwargs)

        wrapper.required_role = role  # type: ignore[attr-defined]
        return wrapper

    return decorate
