"""A legacy Flask app with its own routes, users and login (deploy/embedded/host_app.py)
embeds Taskpulse at /ops, is served by gunicorn with threads, and a new user drives the
embedded page in Chromium: the host's login, live updates over WebSocket and, where
WebSockets are refused, over Socket.IO long-polling."""
from __future__ import annotations

import re
import time

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.scheduler_page import SchedulerPage, run_via_api
from tests.conftest import start_or_report
from tests.support.host_app import ALICE, BOB, PREFIX, HostAppStack
from tests.support.nginx import Nginx


@pytest.fixture(scope="module")
def host(tmp_path_factory, redis_server, database_url):
    """The host app and a worker, on the suite's database (SQLite or PostgreSQL)."""
    redis_server.client().flushdb()
    stack = start_or_report(HostAppStack(redis_server, tmp_path_factory.mktemp("host-app"), database_url))
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def proxies(host, tmp_path_factory):
    """nginx with the shipped config (Socket.IO location moved under the prefix, as its
    comment says), and the same config with the WebSocket upgrade headers stripped."""
    workdir = tmp_path_factory.mktemp("host-nginx")
    location = f"{PREFIX}/socket.io/"
    friendly = Nginx(workdir, [host.port], socketio_location=location)
    hostile = Nginx(workdir, [host.port], strip_upgrade=True, socketio_location=location)
    try:
        yield {"friendly": friendly.start(), "hostile": hostile.start()}
    finally:  # also when one of them failed to start
        friendly.stop()
        hostile.stop()


def host_sign_in(page: Page, root: str, account: tuple[str, str]) -> SchedulerPage:
    """Open the embedded scheduler at the host app reached at ``root`` as a stranger: the
    host's login form, then the live page."""
    page.goto(f"{root}{PREFIX}/scheduler")
    expect(page).to_have_url(re.compile(re.escape(f"{root}/login?next=") + ".*ops"))
    page.get_by_label("Account").fill(account[0])
    page.get_by_label("Password").fill(account[1])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{root}{PREFIX}/scheduler")
    return SchedulerPage(page, f"{root}{PREFIX}").open()


def test_host_login_reaches_the_live_page_and_run_now_goes_live(host, tabs, unique_name):
    task = host.create_task(unique_name, "echo scanned host 1; sleep 0.3")
    alice_tab = tabs.open()
    alice_tab.goto(f"{host.host_url}/")
    expect(alice_tab.get_by_test_id("host-title")).to_have_text("Acme intranet")

    alice = host_sign_in(alice_tab, host.host_url, ALICE)
    expect(alice_tab.get_by_test_id("whoami")).to_have_text("alice (admin)")
    expect(alice_tab.get_by_test_id("logout")).to_have_attribute("href", "/logout")
    # Socket.IO starts on long-polling and upgrades: wait for the upgrade, not the first look.
    alice_tab.wait_for_function("() => window.taskpulse.socket.io.engine.transport.name === 'websocket'",
                                timeout=15_000)
    bob = host_sign_in(tabs.open(), host.host_url, BOB)
    expect(bob.page.get_by_test_id("whoami")).to_have_text("bob (viewer)")
    expect(bob.run_now_button(task["id"])).to_have_count(0)

    alice.run_now_button(task["id"]).click()
    alice.expect_status(task["id"], "running")
    for page in (alice, bob):
        page.expect_status(task["id"], "success")
        expect(page.toast_with(task["name"], "succeeded")).to_be_visible()
    # The run's detail page lives under the prefix too.
    alice.row(task["id"]).get_by_test_id("run-link").click()
    expect(alice_tab).to_have_url(re.compile(re.escape(f"{host.base_url}/runs/") + r"\d+$"))
    expect(alice_tab.get_by_test_id("log-line").first).to_contain_text("scanned host 1")

    # The host's own pages are the host's: its routes, its session, no Taskpulse headers.
    alice_tab.goto(f"{host.host_url}/")
    expect(alice_tab.get_by_test_id("host-user")).to_have_text("alice")
    reports = alice_tab.request.get(f"{host.host_url}/reports")
    assert reports.status == 200 and reports.json() == {"reports": ["q3-revenue"]}
    assert "content-security-policy" not in reports.headers
    page_headers = alice_tab.request.get(f"{host.base_url}/scheduler").headers
    assert "frame-ancestors 'none'" in page_headers["content-security-policy"]


def test_websocket_refused_the_embedded_page_stays_live_over_long_polling(host, page, unique_name):
    refused: list[str] = []

    def refuse(ws) -> None:
        refused.append(ws.url)
        ws.close()

    page.route_web_socket(re.compile(".*"), refuse)
    task = host.create_task(unique_name, "sleep 0.3")
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    ui = host_sign_in(page, host.host_url, ALICE)
    deadline = time.monotonic() + 10
    while not refused and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert refused and all(f"{PREFIX}/socket.io/" in url for url in refused), refused
    assert ui.transport() == "polling"

    requested.clear()
    run_via_api(host, task["id"])
    ui.expect_status(task["id"], "success")
    expect(ui.toast_with(task["name"], "succeeded")).to_be_visible()
    assert ui.transport() == "polling"
    # Live over Socket.IO's own polling, never the REST API.
    assert requested and all(f"{PREFIX}/socket.io/" in url for url in requested), requested


def test_behind_nginx_websocket_passes_and_where_the_proxy_strips_it_polling_stays_live(
        host, proxies, tabs, unique_name):
    task = host.create_task(unique_name, "echo through the proxy")
    for proxy, transport in ((proxies["friendly"], "websocket"), (proxies["hostile"], "polling")):
        page = tabs.open()
        requested: list[str] = []
        ui = host_sign_in(page, proxy.url, ALICE)
        page.on("request", lambda r, seen=requested: seen.append(r.url))
        page.wait_for_function(f"() => window.taskpulse.socket.io.engine.transport.name === '{transport}'",
                               timeout=15_000)
        run_via_api(host, task["id"])
        expect(ui.toast_with(task["name"], "succeeded")).to_have_count(1, timeout=15_000)
        ui.expect_status(task["id"], "success")
        assert ui.transport() == transport
        assert all(f"{PREFIX}/socket.io/" in url for url in requested), requested
        page.close()
    assert " 101 " in proxies["friendly"].access_log()
    assert " 101 " not in proxies["hostile"].access_log()


def test_viewer_is_refused_and_a_stranger_is_sent_to_the_host_login(host, page, unique_name):
    task = host.create_task(unique_name, "true")
    host_sign_in(page, host.host_url, BOB)
    answer = page.evaluate("""async (taskId) => {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const r = await fetch(`api/tasks/${taskId}/run`, {method: 'POST',
            headers: {'X-CSRFToken': csrf, 'Content-Type': 'application/json'}, body: '{}'});
        return [r.status, await r.json()];
    }""", task["id"])
    assert answer[0] == 403 and "operator" in answer[1]["error"]["message"]

    page.get_by_test_id("logout").click()
    expect(page).to_have_url(f"{host.host_url}/")
    page.goto(f"{host.base_url}/scheduler")
    expect(page).to_have_url(re.compile(re.escape(f"{host.host_url}/login?next=")))
    stranger = requests.get(f"{host.base_url}/api/tasks", timeout=5)
    assert stranger.status_code == 401 and stranger.json()["error"]["code"] == "unauthorized"
