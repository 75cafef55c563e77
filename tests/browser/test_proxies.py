"""The page behind nginx: WebSocket through a proxy that passes the upgrade, and
Socket.IO long-polling (never REST polling) through one that strips it."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.scheduler_page import SchedulerPage
from tests.support.nginx import Nginx
from tests.support.processes import wait_until

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def proxies(eventlet_stack, tmp_path_factory):
    """nginx with the shipped config, and the same config with upgrade headers stripped."""
    workdir = tmp_path_factory.mktemp("nginx")
    friendly = Nginx(workdir, [eventlet_stack.port]).start()
    hostile = Nginx(workdir, [eventlet_stack.port], strip_upgrade=True).start()
    yield {"friendly": friendly, "hostile": hostile}
    friendly.stop()
    hostile.stop()


def _run_and_see_success(stack, ui: SchedulerPage, task: dict, name: str) -> None:
    assert stack.api("POST", f"/tasks/{task['id']}/run").status_code == 202
    ui.expect_status(task["id"], "success")
    expect(ui.toast_with(name, "succeeded")).to_have_count(1, timeout=15_000)


def test_page_uses_websocket_through_shipped_nginx_config(eventlet_stack, proxies, tabs, unique_name):
    task = eventlet_stack.create_task(unique_name, "echo through-the-proxy")
    page = tabs.open()
    ui = SchedulerPage(page, proxies["friendly"].url).open()
    page.wait_for_function("() => window.taskpulse.socket.io.engine.transport.name === 'websocket'",
                           timeout=15_000)
    _run_and_see_success(eventlet_stack, ui, task, unique_name)
    assert ui.transport() == "websocket"
    page.close()  # nginx logs a WebSocket when it closes
    wait_until(lambda: '/socket.io/?EIO=4&transport=websocket' in proxies["friendly"].access_log()
               and " 101 " in proxies["friendly"].access_log(), 10, what="nginx to log the upgrade")


def test_page_stays_live_over_long_polling_when_proxy_strips_upgrade(eventlet_stack, proxies, tabs, unique_name):
    task = eventlet_stack.create_task(unique_name, "echo through-the-proxy")
    page = tabs.open()
    requests_seen: list[str] = []
    page.on("request", lambda request: requests_seen.append(request.url))
    ui = SchedulerPage(page, proxies["hostile"].url).open()
    started = len(requests_seen)
    _run_and_see_success(eventlet_stack, ui, task, unique_name)
    assert ui.transport() == "polling"
    after_load = [u for u in requests_seen[started:] if "/vendor/" not in u and "/static/" not in u]
    assert after_load and all("/socket.io/" in u for u in after_load), after_load
    assert " 101 " not in proxies["hostile"].access_log()
