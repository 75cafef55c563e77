"""Sign-in and sign-out pages (session cookie)."""
from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, render_template, request, session, url_for

from webapp.access.auth import check_password, csrf_ok, login_blocked, note_failed_login, sign_in, sign_out_everywhere

bp = Blueprint("auth_pages", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so the login form cannot bounce users to another site.

    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so
    ``/\\evil`` or ``/<newline>/evil`` would leave the site; control characters would
    also make an invalid Location header. Anything doubtful goes to the scheduler page.
    """
    fallback = url_for("taskpulse.pages.scheduler")
    if not isinstance(target, str) or not target.startswith("/") or len(target) > 2000:
        return fallback
    if target.startswith("//") or "\\" in target:
        return fallback
    if any(unicodedata.category(c)[0] in "CZ" for c in target):  # controls, spaces, separators
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the form; on POST check the password and start a session.

    Failed attempts are counted per address and per user name in Flask-Limiter's Redis
    store (shared with HTTP Basic failures), so guessing is slowed on every door; an
    exhausted budget is a 429.
    """
    next_url = _safe_next(request.args.get("next"))
    if request.method == "GET":
        return render_template("taskpulse/login.html", next_url=next_url, error=None, username="")
    if not csrf_ok():
        abort(400, "the form expired; reload the page and sign in again")
    username = request.form.get("username", "")[:80]
    address = request.remote_addr or "?"
    blocked = login_blocked(address, username)
    user = None if blocked else check_password(username, request.form.get("password", ""))
    if user is None:
        # 429 when the password was not even checked; a checked wrong one is a 401 that
        # may already warn that the budget is now used up.
        status = 429 if blocked else 401
        if not blocked:
            note_failed_login(address, username)
            blocked = login_blocked(address, username)
        error = f"Too many failed sign-ins: {blocked}." if blocked else "Wrong user name or password."
        return (render_template("taskpulse/login.html", next_url=next_url, error=error, username=username),
                status)
    sign_in(user)
    return redirect(next_url)


@bp.post("/logout")
def logout():
    """End the user's sessions (POST with the CSRF token, so no other site can sign you
    out); copies of the cookie stop working too."""
    if not csrf_ok():
        abort(400, "missing CSRF token")
    user_id = session.get("user_id")
    if isinstance(user_id, int):
        sign_out_everywhere(user_id)
    session.clear()
    return redirect(url_for("taskpulse.auth_pages.login"))

