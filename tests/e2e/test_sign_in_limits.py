"""Failed sign-ins behind the shipped nginx config (deploy/nginx/taskpulse.conf), with a
real web process run as deploy/systemd/taskpulse.env says (TASKPULSE_PROXY_HOPS=1) and
clients on different loopback addresses: one client's failures lock out that client, not
everyone behind the proxy; a forged X-Forwarded-For does not get an attacker out of the
limit; guessing one user name from many addresses is limited too."""
from __future__ import annotations

import re

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.conftest import start_or_report
from tests.support.nginx import Nginx
from tests.support.processes import ADMIN, Stack

VICTIM = ("vicky", "victim-e2e-password")
TARGET = ("tess", "target-e2e-password")
FORM_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class SourceAddress(HTTPAdapter):
    """Connect from a chosen loopback address (the whole 127/8 is the loopback)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_at(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", SourceAddress(address))
    return session


class StackWithoutWorker(Stack):
    """Only the web process: sign-in needs no worker (and the machine's cores are shared)."""

    def start(self, workers: int = 0) -> "Stack":
        return super().start(workers)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory, redis_server, database_url):
    """nginx with the shipped config in front of a web process trusting one proxy, with
    the shipped sign-in limits (the test stacks usually relax them)."""
    workdir = tmp_path_factory.mktemp("sign-in-limits")
    redis_server.client().flushdb()
    stack = start_or_report(StackWithoutWorker(redis_server, workdir, database_url=database_url, extra_env={
        "TASKPULSE_PROXY_HOPS": "1",
        "TASKPULSE_LOGIN_RATE_LIMIT": "10 per minute",
        "TASKPULSE_LOGIN_USER_RATE_LIMIT": "20 per 10 minutes",
    }))
    for name, password in (VICTIM, TARGET):
        stack.flask("users", "create", name, "--role", "operator", "--password", password)
    nginx = Nginx(workdir, [stack.port]).start()
    yield stack, nginx
    nginx.stop()
    stack.stop()


def api_as(session: requests.Session, nginx: Nginx, credentials: tuple[str, str], **kwargs) -> requests.Response:
    return session.get(f"{nginx.url}/api/tasks", auth=credentials, timeout=10, **kwargs)


def form_sign_in(session: requests.Session, nginx: Nginx, credentials: tuple[str, str]) -> requests.Response:
    page = session.get(f"{nginx.url}/login", timeout=10)
    token = FORM_CSRF.search(page.text).group(1)
    return session.post(f"{nginx.url}/login", timeout=10, allow_redirects=False,
                        data={"csrf_token": token, "username": credentials[0], "password": credentials[1]})


def test_one_clients_failures_do_not_lock_out_another_behind_nginx(proxied):
    _, nginx = proxied
    attacker, victim = client_at("127.0.0.2"), client_at("127.0.0.3")
    for _ in range(10):
        assert api_as(attacker, nginx, (VICTIM[0], "a wrong guess")).status_code == 401
    refused = api_as(attacker, nginx, VICTIM)  # even the right password, from there
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"

    # The same user, from another address, signs in on the page and over Basic.
    signed_in = form_sign_in(victim, nginx, VICTIM)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/scheduler"
    assert victim.get(f"{nginx.url}/api/tasks", timeout=10).status_code == 200  # the session cookie
    assert api_as(client_at("127.0.0.3"), nginx, VICTIM).status_code == 200
    # The attacker's address stays refused on the sign-in page too.
    page = form_sign_in(attacker, nginx, VICTIM)
    assert page.status_code == 429 and "Too many failed sign-ins" in page.text


def test_a_forged_forwarded_for_does_not_escape_the_limit(proxied):
    _, nginx = proxied
    attacker = client_at("127.0.0.4")
    for n in range(10):
        forged = {"X-Forwarded-For": f"198.51.100.{n}", "X-Real-IP": f"198.51.100.{n}"}
        assert api_as(attacker, nginx, (ADMIN[0], "a wrong guess"), headers=forged).status_code == 401
    for forged in ("203.0.113.7", "127.0.0.3", "203.0.113.7, 127.0.0.3"):
        response = api_as(attacker, nginx, ADMIN, headers={"X-Forwarded-For": forged})
        assert response.status_code == 429, forged
    # The address it tried to hide behind is not blocked either.
    assert api_as(client_at("127.0.0.5"), nginx, ADMIN).status_code == 200


def test_guessing_one_user_name_from_many_addresses_is_limited(proxied):
    _, nginx = proxied
    # Each address may use a quarter of a name's 20 failures in 10 minutes.
    for host in range(10, 14):
        guesser = client_at(f"127.0.0.{host}")
        for _ in range(5):
            assert api_as(guesser, nginx, (TARGET[0], "a wrong guess")).status_code == 401
    refused = api_as(client_at("127.0.0.20"), nginx, TARGET)
    assert refused.status_code == 429 and "user name" in refused.json()["error"]["message"]
    assert api_as(client_at("127.0.0.20"), nginx, ADMIN).status_code == 200


def test_no_hsts_without_secure_cookies_even_if_a_client_claims_https(proxied):
    _, nginx = proxied
    response = client_at("127.0.0.6").get(f"{nginx.url}/login", timeout=10,
                                          headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers
