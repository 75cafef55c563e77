"""An existing Flask app (its own users table, login and pages) that gains Taskpulse's
live scheduler page with the few lines marked "Taskpulse" below.

Run it as a legacy deployment would (see README, "Embedding in an existing Flask app")::

    export DATABASE_URL=sqlite:////tmp/host.db REDIS_URL=redis://127.0.0.1:6379/0
    flask --app deploy.embedded.host_app init-db          # the host's own tables
    flask --app deploy.embedded.host_app taskpulse db upgrade
    gunicorn -w 1 --threads 100 deploy.embedded.host_app:app
    rq worker -c worker.rq_settings --worker-class worker.runner.TaskpulseWorker \\
        --serializer rq.serializers.JSONSerializer taskpulse
"""
from __future__ import annotations

import os

import click
from flask import Flask, abort, g, redirect, render_template_string, request, session, url_for
from flask_sqlalchemy import SQLAlchemy
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.embed import Taskpulse  # Taskpulse

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "change-me")
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "sqlite:////tmp/host.db")
# gunicorn with threads: Socket.IO in threading mode (simple-websocket for WebSocket).
app.config["ASYNC_MODE"] = "threading"
db = SQLAlchemy(app)


class Account(db.Model):
    """The host's own users (note the table name: Taskpulse's tables are prefixed)."""

    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(80), unique=True, nullable=False)
    password_hash = db.Column(db.String(256), nullable=False)
    is_admin = db.Column(db.Boolean, nullable=False, default=False)


def signed_in_account() -> Account | None:
    """The account of this request's session (Flask-Login's current_user is the same idea)."""
    name = session.get("account")
    return db.session.execute(db.select(Account).filter_by(name=name)).scalar() if name else None


@app.before_request
def load_account() -> None:
    g.user = signed_in_account()


# Taskpulse: who is signed in here, and with which role there. It reads the session,
# not g: it also runs in Socket.IO handshakes, where before_request handlers do not.
def taskpulse_role():
    account = signed_in_account()
    if account is None:
        return None
    return account.name, "admin" if account.is_admin else "viewer"


Taskpulse(app, url_prefix="/ops", current_user=taskpulse_role,  # Taskpulse
          login_url="/login", logout_url="/logout")

PAGE = """<!doctype html><title>Acme intranet</title>
<h1 data-testid="host-title">Acme intranet</h1>
{% if g.user %}<p>Signed in as <b data-testid="host-user">{{ g.user.name }}</b>.
<a href="/logout">Sign out</a></p>
<p><a href="{{ url_for('taskpulse.pages.scheduler') }}" data-testid="to-scheduler">Task scheduler</a></p>
{% else %}
<form method="post" action="{{ url_for('login', next=request.args.get('next', '')) }}">
  <label>Account <input name="name"></label>
  <label>Password <input name="password" type="password"></label>
  <button type="submit">Log in</button>
  {% if error %}<p role="alert">{{ error }}</p>{% endif %}
</form>
{% endif %}"""


@app.get("/")
def home():
    return render_template_string(PAGE, error=None)


@app.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template_string(PAGE, error=None)
    account = db.session.execute(
        db.select(Account).filter_by(name=request.form.get("name", ""))).scalar()
    if account is None or not check_password_hash(account.password_hash, request.form.get("password", "")):
        return render_template_string(PAGE, error="Wrong account or password."), 401
    session["account"] = account.name
    target = request.args.get("next") or "/"
    return redirect(target if target.startswith("/") and not target.startswith("//") else "/")


@app.get("/logout")
def logout():
    session.clear()
    return redirect(url_for("home"))


@app.get("/reports")
def reports():
    """One of the host's own pages: untouched by Taskpulse."""
    if g.user is None:
        abort(401)
    return {"reports": ["q3-revenue"]}


@app.cli.command("init-db")
@click.option("--account", "accounts", multiple=True, metavar="NAME:PASSWORD[:admin]",
              help="Accounts to create (repeatable).")
def init_db(accounts: tuple[str, ...]) -> None:
    """Create the host's own tables (Taskpulse's come from `taskpulse db upgrade`)."""
    db.create_all()
    for spec in accounts:
        name, password, *admin = spec.split(":")
        db.session.add(Account(name=name, password_hash=generate_password_hash(password),
                               is_admin=admin == ["admin"]))
    db.session.commit()
    click.echo(f"host tables ready; {len(accounts)} account(s) added")
