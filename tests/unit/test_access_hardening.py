"""The access side of the second release's hardening, as a user or attacker sees it
through the Flask test client: failed sign-ins limited per address and per user name
(and one address cannot lock a user out), the client address from a trusted proxy only,
HSTS with secure cookies, a safe redirect for any ``next`` after sign-in, expired tokens
refused, the SECRET_KEY check, and text made safe for the terminal."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.conftest import basic_auth
from tests.unit.test_auth import ADMIN, OPERATOR, anonymous, assert_json_error, build_app, login


@pytest.fixture
def app(tmp_path, redis_server):
    """Overrides the root ``app``: admin, operator ``otto`` and viewer ``vera``."""
    from webapp.core.extensions import db

    app = build_app(tmp_path, redis_server.url)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def limited_app(tmp_path, redis_server):
    """The shipped limits: 10 failures a minute per address, 20 per 10 minutes per name."""
    from webapp.core.extensions import db

    app = build_app(tmp_path, redis_server.url, LOGIN_RATE_LIMIT="10 per minute",
                    LOGIN_USER_RATE_LIMIT="20 per 10 minutes")
    yield app
    with app.app_context():
        db.engine.dispose()


def from_address(app, address: str, credentials: tuple[str, str] | None = None):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if credentials:
        client.environ_base["HTTP_AUTHORIZATION"] = basic_auth(*credentials)
    return client


def fresh_prefix() -> str:
    """A /24 of its own, so failures counted in the shared Redis never meet another test's."""
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}"


# --- failed sign-ins: per address and per user name ----------------------------------------

def test_one_address_cannot_lock_a_user_out(limited_app):
    net = fresh_prefix()
    attacker = from_address(limited_app, f"{net}.1", (ADMIN[0], "guess"))
    for _ in range(10):
        assert_json_error(attacker.get("/api/tasks"), 401, "unauthorized")
    blocked = assert_json_error(attacker.get("/api/tasks"), 429, "rate_limited")
    assert "address" in blocked["message"]
    # The admin, anywhere else, still signs in, with the form and with Basic.
    assert login(from_address(limited_app, f"{net}.2"), *ADMIN).status_code == 302
    assert from_address(limited_app, f"{net}.3", ADMIN).get("/api/tasks").status_code == 200


def test_guessing_one_name_from_many_addresses_is_limited_per_name(limited_app):
    net = fresh_prefix()
    # Each address may use a quarter of the name's 20: four addresses use it all up.
    for host in range(1, 5):
        guesser = from_address(limited_app, f"{net}.{host}", (OPERATOR[0], "guess"))
        for _ in range(5):
            assert guesser.get("/api/tasks").status_code == 401
    refused = assert_json_error(from_address(limited_app, f"{net}.9", OPERATOR).get("/api/tasks"),
                                429, "rate_limited")
    assert "user name" in refused["message"]
    page = login(from_address(limited_app, f"{net}.10"), *OPERATOR)
    assert page.status_code == 429 and "Too many failed sign-ins" in page.get_data(as_text=True)
    # Other names are not affected.
    assert from_address(limited_app, f"{net}.11", ADMIN).get("/api/tasks").status_code == 200


def test_a_forwarded_for_header_is_ignored_without_trusted_proxies(limited_app):
    attacker = from_address(limited_app, f"{fresh_prefix()}.1", (ADMIN[0], "guess"))
    for n in range(10):
        attacker.get("/api/tasks", headers={"X-Forwarded-For": f"192.0.2.{n}"})
    response = attacker.get("/api/tasks", headers={"X-Forwarded-For": "192.0.2.200"})
    assert_json_error(response, 429, "rate_limited")


def test_with_one_trusted_proxy_the_client_is_the_forwarded_address(tmp_path, redis_server):
    app = build_app(tmp_path, redis_server.url, LOGIN_RATE_LIMIT="3 per minute", PROXY_HOPS=1)
    from webapp.access.headers import trust_proxies

    trust_proxies(app)  # create_app wired it from the environment; here from the test config
    net = fresh_prefix()
    proxy = from_address(app, "127.0.0.1", (ADMIN[0], "guess"))
    for _ in range(3):
        proxy.get("/api/tasks", headers={"X-Forwarded-For": f"{net}.1"})
    assert proxy.get("/api/tasks", headers={"X-Forwarded-For": f"{net}.1"}).status_code == 429
    proxy.environ_base["HTTP_AUTHORIZATION"] = basic_auth(*ADMIN)
    assert proxy.get("/api/tasks", headers={"X-Forwarded-For": f"{net}.2"}).status_code == 200


def test_proxy_hops_must_be_a_small_whole_number(monkeypatch):
    from webapp.core.config import Config

    for bad in ("one", "-1", "99", "1.5"):
        monkeypatch.setenv("TASKPULSE_PROXY_HOPS", bad)
        with pytest.raises(ValueError, match="TASKPULSE_PROXY_HOPS"):
            Config()
    monkeypatch.setenv("TASKPULSE_PROXY_HOPS", "1")
    assert Config().PROXY_HOPS == 1


# --- HSTS -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/login", "/api/tasks", "/healthz"])
def test_hsts_is_sent_with_secure_cookies_and_not_without(tmp_path, redis_server, path):
    (tmp_path / "secure").mkdir()
    (tmp_path / "plain").mkdir()
    secure = build_app(tmp_path / "secure", redis_server.url, SESSION_COOKIE_SECURE=True)
    plain = build_app(tmp_path / "plain", redis_server.url)
    assert secure.test_client().get(path).headers.get("Strict-Transport-Security") == "max-age=31536000"
    assert "Strict-Transport-Security" not in plain.test_client().get(path).headers


# --- next after sign-in ---------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "/scheduler\nSet-Cookie: x=1", "/\r\n/evil.example", "/audit\x00", "/a\x1b[2Jb", "/\u2028evil",
    "//evil.example", "\\\\evil.example", "/\\evil.example", "https://evil.example/", "/ /evil.example",
    "x" * 3000,
], ids=["newline-header", "crlf", "nul", "escape", "line-separator", "scheme-relative", "backslashes",
        "slash-backslash", "absolute", "space", "huge"])
def test_a_hostile_next_after_sign_in_is_a_safe_redirect_to_the_scheduler(app, target):
    response = login(anonymous(app), *ADMIN, next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/scheduler"


def test_a_plain_next_is_still_followed(app):
    response = login(anonymous(app), *ADMIN, next_url="/runs/3?tab=log")
    assert response.status_code == 302 and response.headers["Location"] == "/runs/3?tab=log"


# --- token expiry ---------------------------------------------------------------------------

def test_an_expired_token_is_401_token_expired_and_fails_the_sweep_check(app):
    from webapp.access import users
    from webapp.access.auth import Principal, still_valid, token_digest
    from webapp.core.extensions import db
    from webapp.core.models import ApiToken
    from webapp.core.timeutil import utcnow

    with app.app_context():
        token = users.issue_token(OPERATOR[0], "short", expires_in=timedelta(hours=1))
        lasting = users.issue_token(OPERATOR[0], "lasting")
        row = db.session.execute(db.select(ApiToken).where(ApiToken.token_hash == token_digest(token))).scalar()
        principal = Principal(row.user_id, OPERATOR[0], "operator", "token")
        assert still_valid(principal, token_digest(token))
    script = anonymous(app)
    script.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    assert script.get("/api/tasks").status_code == 200
    with app.app_context():
        row = db.session.execute(db.select(ApiToken).where(ApiToken.token_hash == token_digest(token))).scalar()
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert not still_valid(principal, token_digest(token))
    error = assert_json_error(script.get("/api/tasks"), 401, "unauthorized")
    assert error["message"] == "token expired"
    script.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {lasting}"
    assert script.get("/api/tasks").status_code == 200


# --- SECRET_KEY -----------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["change-me-to-a-long-random-string", "change-me", "CHANGEME",
                                   "short-but-not-a-placeholder"])
def test_an_explicit_placeholder_or_short_secret_key_is_refused(value):
    from webapp.core.secret_key import InsecureSecretKey, check_secret_key

    with pytest.raises(InsecureSecretKey, match="SECRET_KEY"):
        check_secret_key({"SECRET_KEY": value})


def test_the_shipped_placeholder_is_refused_and_real_keys_pass():
    from tests.support.processes import ROOT
    from webapp.core.secret_key import InsecureSecretKey, check_secret_key

    shipped = dict(line.split("=", 1) for line in (ROOT / "deploy/systemd/taskpulse.env").read_text().splitlines()
                   if line and not line.startswith("#"))
    with pytest.raises(InsecureSecretKey, match="placeholder"):
        check_secret_key(shipped)
    check_secret_key({})  # unset: a random key of the process's own
    check_secret_key({"SECRET_KEY": "0f" * 32})  # what `make run` generates


# --- text for the terminal ------------------------------------------------------------------

def test_printable_shows_control_characters_as_escapes():
    from webapp.cli.terminal import printable

    hostile = "boom\x1b[2J\x1b]0;pwned\x07\r\u202eevil\x9b31m\nnext line\tcol"
    shown = printable(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\r" not in shown and "\u202e" not in shown
    assert "\\x1b[2J" in shown and "\\u202e" in shown and "\\x9b" in shown
    assert shown.endswith("\nnext line\tcol")
    assert "\n" not in printable(hostile, keep_newlines=False)
    assert printable("Résumé 中文 ✓") == "Résumé 中文 ✓"
