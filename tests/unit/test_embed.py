"""The embedding extension in a host app, through Flask's test client: what it mounts
under the prefix, what it leaves alone, the login hook, and where its tables go. (The
real deployment, gunicorn + worker + Chromium, is tests/browser/test_embedded.py.)"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, session
from flask_sqlalchemy import SQLAlchemy

from webapp.embed import Taskpulse


def host_app(tmp_path, redis_url: str, **taskpulse_options) -> tuple[Flask, SQLAlchemy]:
    """A small host: its own SQLAlchemy, a users table, a login that sets the session."""
    app = Flask("host")
    app.config.update(SECRET_KEY="host-secret", ASYNC_MODE="threading", REDIS_URL=redis_url,
                      SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'host.db'}", TESTING=True)
    db = SQLAlchemy(app)

    class Account(db.Model):
        __tablename__ = "users"
        id = db.Column(db.Integer, primary_key=True)

    @app.get("/")
    def home():
        return "host home"

    @app.post("/login/<name>/<role>")
    def login(name, role):
        session["who"] = [name, role]
        return "ok"

    def current_user():
        who = session.get("who")
        return tuple(who) if who else None

    options = {"url_prefix": "/ops", "current_user": current_user, "login_url": "/login"}
    options.update(taskpulse_options)
    Taskpulse(app, **options)
    with app.app_context():
        db.create_all()
    return app, db


def upgrade(app: Flask) -> str:
    result = app.test_cli_runner().invoke(args=["taskpulse", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    return result.output


def test_mounts_under_the_prefix_and_leaves_the_host_alone(tmp_path, redis_server):
    app, _ = host_app(tmp_path, redis_server.url)
    upgrade(app)
    client = app.test_client()
    # The host's routes, 404s and headers are its own.
    home = client.get("/")
    assert home.get_data(as_text=True) == "host home"
    assert "Content-Security-Policy" not in home.headers
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and not missing.is_json
    # Taskpulse's are under /ops, with its headers; strangers go to the host's login.
    page = client.get("/ops/scheduler")
    assert page.status_code == 302 and page.headers["Location"] == "/login?next=%2Fops%2Fscheduler"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert client.get("/ops/api/tasks").status_code == 401
    assert client.get("/ops/static/css/taskpulse.css").status_code == 200
    assert client.get("/ops/login").status_code == 404  # the host signs users in
    assert client.get("/api/tasks").status_code == 404 and client.get("/scheduler").status_code == 404
    # Its commands are under one group: the host keeps `flask db`, `flask users`...
    assert "taskpulse" in app.cli.list_commands(None)
    assert "db" not in app.cli.list_commands(None)


def test_the_host_login_hook_decides_who_and_which_role(tmp_path, redis_server):
    app, _ = host_app(tmp_path, redis_server.url)
    upgrade(app)
    client = app.test_client()
    client.post("/login/carol/viewer")
    page = client.get("/ops/scheduler")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "carol (viewer)" in html
    assert 'data-socket-path="/ops/socket.io"' in html and 'data-api-base="/ops/api"' in html
    token = html.split('name="csrf-token" content="')[1].split('"')[0]
    refused = client.post("/ops/api/tasks", json={"name": "x", "kind": "shell",
                                                  "config": {"command": "true"}},
                          headers={"X-CSRFToken": token})
    assert refused.status_code == 403
    # The host promotes carol: Taskpulse follows on her next request.
    client.post("/login/carol/admin")
    body = {"name": "made by carol", "kind": "shell", "config": {"command": "true"}}
    assert client.post("/ops/api/tasks", json=body).status_code == 403  # no CSRF token
    made = client.post("/ops/api/tasks", json=body, headers={"X-CSRFToken": token})
    assert made.status_code == 201, made.get_data(as_text=True)
    audit = client.get("/ops/api/audit").get_json()["entries"]
    assert audit[0]["username"] == "carol" and audit[0]["target_name"] == "made by carol"
    # A role the hook invents is no access, not an error.
    client.post("/login/mallory/root")
    assert client.get("/ops/api/tasks").status_code == 401


def test_tables_go_to_the_host_database_or_to_one_of_their_own(tmp_path, redis_server):
    (tmp_path / "a").mkdir()
    shared, _ = host_app(tmp_path / "a", redis_server.url)
    upgrade(shared)
    host_tables = set(sa.inspect(sa.create_engine(f"sqlite:///{tmp_path / 'a' / 'host.db'}")).get_table_names())
    assert {"users", "taskpulse_tasks", "taskpulse_users", "taskpulse_alembic_version"} <= host_tables

    (tmp_path / "b").mkdir()
    own = f"sqlite:///{tmp_path / 'b' / 'taskpulse.db'}"
    separate, host_db = host_app(tmp_path / "b", redis_server.url, database_url=own)
    assert "database schema at revision 0" in upgrade(separate)
    host_tables = set(sa.inspect(sa.create_engine(f"sqlite:///{tmp_path / 'b' / 'host.db'}")).get_table_names())
    assert host_tables == {"users"}
    assert "taskpulse_tasks" in sa.inspect(sa.create_engine(own)).get_table_names()
    with separate.app_context():  # the host's own SQLAlchemy still uses the host's URL
        assert str(host_db.engine.url).endswith("b/host.db")
        assert separate.config["SQLALCHEMY_DATABASE_URI"].endswith("b/host.db")
