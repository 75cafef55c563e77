"""Sign-in and sign-out pages (session cookie)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, render_template, request, session, url_for

from ..auth import check_password, csrf_ok, login_blocked, note_failed_login, sign_in, sign_out_everywhere

bp = Blueprint("auth_pages", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so the login form cannot bounce users to another site."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("taskpulse.pages.scheduler")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the form; on POST check the password and start a session.

    Failed attempts are counted per address in Flask-Limiter's Redis store (shared with
    HTTP Basic failures), so guessing is slowed on every door.
    """
    next_url = _safe_next(request.args.get("next"))
    if request.method == "GET":
        return render_template("taskpulse/login.html", next_url=next_url, error=None, username="")
    if not csrf_ok():
        abort(400, "the form expired; reload the page and sign in again")
    username = request.form.get("username", "")[:80]
    address = request.remote_addr or "?"
    user = None if login_blocked(address) else check_password(username, request.form.get("password", ""))
    if user is None:
        note_failed_login(address)
        error = ("Too many failed sign-ins: wait a minute." if login_blocked(address)
                 else "Wrong user name or password.")
        return render_template("taskpulse/login.html", next_url=next_url, error=error, username=username), 401
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

