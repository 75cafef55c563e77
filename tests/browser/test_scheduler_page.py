"""The scheduler page in a real Chromium against the real system (server process,
forking rq worker, Redis), in both async modes: what an operator sees and clicks."""
from __future__ import annotations

import re
import statistics
import time
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.scheduler_page import RUN_TIMEOUT_MS, SchedulerPage, run_via_api

pytestmark = pytest.mark.browser

DURATION = re.compile(r"^\d+ ms$|^\d+\.\d s$|^\d+ min \d+ s$")

# Records, in the page, every text the task's status badge shows (with whether the
# spinner was visible then) and when: the click time (capture phase, so before the
# page's own handler) and the first time the badge read "success".
WATCH_ROW_JS = """
(taskId) => {
  const row = () => document.querySelector(`tr[data-testid="task-row"][data-task-id="${taskId}"]`);
  const mark = { clickedAt: null, successAt: null, history: [] };
  window.__rowWatch = mark;
  document.addEventListener('click', (event) => {
    if (mark.clickedAt === null && event.target.closest(`button[data-task-id="${taskId}"]`)) {
      mark.clickedAt = performance.now();
    }
  }, true);
  const record = () => {
    const tr = row();
    if (!tr) return;
    const text = tr.querySelector('[data-testid="status"]').textContent;
    const last = mark.history[mark.history.length - 1];
    if (!last || last.status !== text) {
      mark.history.push({ status: text, spinner: !tr.querySelector('.spinner').hidden });
    }
    if (text === 'success' && mark.successAt === null) mark.successAt = performance.now();
  };
  record();
  new MutationObserver(record).observe(document.querySelector('#tasks tbody'),
    { subtree: true, childList: true, characterData: true, attributes: true });
}
"""


def test_run_now_turns_row_success_with_toast(stack, page, tabs, unique_name, tmp_path):
    slow = stack.create_task(f"{unique_name}-slow", "sleep 1; echo ok")
    bad = stack.create_task(f"{unique_name}-bad", "echo boom >&2; exit 2")
    quick = stack.create_task(f"{unique_name}-quick", "true")
    ui = SchedulerPage(page, stack.base_url).open()
    expect(ui.status(slow["id"])).to_have_text("never run")
    expect(ui.row(slow["id"]).locator("td.col-duration")).to_have_text("—")

    # A succeeding run: running with a spinner, then success, a toast and a duration.
    page.evaluate(WATCH_ROW_JS, slow["id"])
    ui.run_now_button(slow["id"]).click()
    ui.expect_status(slow["id"], "running", timeout=10_000)
    expect(ui.row(slow["id"]).locator(".spinner")).to_be_visible()
    expect(ui.run_now_button(slow["id"])).to_be_disabled()
    ui.expect_status(slow["id"], "success")
    expect(ui.row(slow["id"]).locator(".spinner")).to_be_hidden()
    expect(ui.toast_with(slow["name"], "succeeded")).to_be_visible()
    duration = ui.row(slow["id"]).locator("td.col-duration")
    expect(duration).to_have_text(DURATION)
    assert float(duration.inner_text().split()[0]) >= 1.0, duration.inner_text()
    # Everything the badge showed, in order (a long-polling batch may merge "queued"
    # into "running"): never backwards, spinner exactly while queued or running.
    history = page.evaluate("() => window.__rowWatch.history")
    shown = [h["status"] for h in history]
    assert shown[0] == "never run" and shown[-1] == "success" and "running" in shown, history
    assert shown == [s for s in ["never run", "queued", "running", "success"] if s in shown], history
    assert all(h["spinner"] == (h["status"] in ("queued", "running")) for h in history), history
    expect(ui.run_now_button(slow["id"])).to_be_enabled()

    # A failing run: failed, and a toast carrying the command's stderr.
    ui.run_now_button(bad["id"]).click()
    ui.expect_status(bad["id"], "failed")
    expect(ui.toast_with(bad["name"], "boom")).to_be_visible()
    expect(ui.row(bad["id"]).locator("td.col-duration")).to_have_text(DURATION)

    # Measured, not asserted: click -> badge "success" for a `true` command.
    page.evaluate(WATCH_ROW_JS, quick["id"])
    ui.run_now_button(quick["id"]).click()
    ui.expect_status(quick["id"], "success")
    expect(ui.toast_with(quick["name"], "succeeded")).to_be_visible()
    watch = page.evaluate("() => window.__rowWatch")
    print(f"[{stack.async_mode}] click -> row 'success' for `true`: "
          f"{watch['successAt'] - watch['clickedAt']:.0f} ms")

    shot = tmp_path / f"scheduler-after-runs-{stack.async_mode}.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert not tabs.log(page).errors


def test_every_open_tab_updates_live(stack, tabs, unique_name):
    task = stack.create_task(unique_name, "true")
    first = SchedulerPage(tabs.open(), stack.base_url).open()
    second = SchedulerPage(tabs.open(), stack.base_url).open()
    second.mark_document()
    expect(second.status(task["id"])).to_have_text("never run")

    first.run_now_button(task["id"]).click()
    first.expect_status(task["id"], "success")
    second.expect_status(task["id"], "success")
    expect(second.toast_with(task["name"], "succeeded")).to_be_visible()
    expect(second.row(task["id"]).locator("td.col-duration")).to_have_text(DURATION)
    assert second.still_same_document(), "the second tab reloaded"
    for tab in (first, second):
        assert not tabs.log(tab.page).errors


def test_idle_page_makes_no_requests_but_socketio(stack, page, tabs, unique_name):
    task = stack.create_task(unique_name, "true")
    ui = SchedulerPage(page, stack.base_url).open()
    requests: list[str] = []
    sockets: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("websocket", lambda ws: sockets.append(ws.url))

    page.wait_for_timeout(20_000)  # an idle page, watched for 20 s
    idle_paths = [urlsplit(url).path for url in requests]
    print(f"[{stack.async_mode}] idle 20 s: {len(requests)} requests "
          f"({ui.transport()} transport), {len(sockets)} new websockets")
    assert all(path.startswith("/socket.io/") for path in idle_paths), idle_paths
    assert not any(path.startswith("/api") for path in idle_paths), idle_paths
    assert sockets == [], f"the page reconnected while idle: {sockets}"
    expect(ui.connection).to_have_text("live")

    # A run started elsewhere still reaches the idle page, over Socket.IO alone.
    run_via_api(stack, task["id"])
    ui.expect_status(task["id"], "success")
    expect(ui.toast_with(task["name"], "succeeded")).to_be_visible()
    paths = [urlsplit(url).path for url in requests]
    assert all(path.startswith("/socket.io/") for path in paths), paths
    assert not tabs.log(page).errors


def test_websocket_refused_falls_back_to_long_polling(stack, page, tabs, unique_name):
    refused: list[str] = []

    def refuse(ws) -> None:
        refused.append(ws.url)
        ws.close()

    page.route_web_socket(re.compile(".*"), refuse)
    task = stack.create_task(unique_name, "sleep 0.5")
    ui = SchedulerPage(page, stack.base_url).open()
    # The client starts on long-polling and tries to upgrade; once that websocket has
    # been refused, it must stay on polling.
    _wait(page, lambda: refused, 10, "the page to try a websocket")
    assert ui.transport() == "polling"

    run_via_api(stack, task["id"])
    ui.expect_status(task["id"], "success")
    expect(ui.toast_with(task["name"], "succeeded")).to_be_visible()
    assert ui.transport() == "polling"
    expect(ui.connection).to_have_text("live")
    assert all("/socket.io/" in url for url in refused), refused
    assert not tabs.log(page).errors


def test_task_names_render_as_text(stack, page, tabs):
    hostile = "<img src=x onerror=alert(1)>"
    rendered = stack.create_task(hostile, "true")
    ui = SchedulerPage(page, stack.base_url).open()
    expect(ui.row(rendered["id"]).locator("td.col-name")).to_have_text(hostile)

    # A task the page has not seen yet arrives through an event (rows built by JS).
    arriving = stack.create_task("<script>alert(2)</script><b onmouseover=alert(3)>x</b>", "true")
    for task in (rendered, arriving):
        run_via_api(stack, task["id"])
        ui.expect_status(task["id"], "success")
        expect(ui.row(task["id"]).locator("td.col-name")).to_have_text(task["name"])
        expect(ui.toast_with(task["name"], "succeeded")).to_be_visible()

    ui.row(arriving["id"]).locator("td.col-name").hover()
    for where in (page.locator("#tasks"), page.locator("#toasts")):
        expect(where.locator("img, script, b")).to_have_count(0)
    assert tabs.log(page).dialogs == []
    assert not tabs.log(page).errors


def test_measure_emit_to_browser_latency(stack, page, tabs, unique_name):
    """Prints emit -> browser latency (emitted_at vs Date.now() in the page); asserts
    only that every run reached success."""
    runs = 20
    task = stack.create_task(unique_name, "true")
    ui = SchedulerPage(page, stack.base_url).open()
    page.evaluate("""() => {
      window.__arrivals = [];
      window.taskpulse.socket.on('task_update', (ev) => {
        window.__arrivals.push({ run_id: ev.run_id, status: ev.status,
                                 emitted_at: ev.emitted_at, at: Date.now() });
      });
    }""")
    run_ids = []
    started = time.monotonic()
    for _ in range(runs):
        run = run_via_api(stack, task["id"])
        run_ids.append(run["run_id"])
        page.wait_for_function(
            "(id) => window.__arrivals.some((a) => a.run_id === id && a.status === 'success')",
            arg=run["run_id"], timeout=RUN_TIMEOUT_MS,
        )
    elapsed = time.monotonic() - started
    ui.expect_status(task["id"], "success")

    arrivals = page.evaluate("() => window.__arrivals")
    mine = [a for a in arrivals if a["run_id"] in run_ids]
    assert {a["run_id"] for a in mine if a["status"] == "success"} == set(run_ids)
    page_ms = page.evaluate("(list) => list.map((a) => a.at - Date.parse(a.emitted_at))", mine)
    by_status: dict[str, list[float]] = {}
    for arrival, latency in zip(mine, page_ms):
        by_status.setdefault(arrival["status"], []).append(latency)

    def summary(values: list[float]) -> str:
        values = sorted(values)
        p90 = values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]
        return f"p50 {statistics.median(values):.0f} ms, p90 {p90:.0f} ms, max {values[-1]:.0f} ms (n={len(values)})"

    print(f"[{stack.async_mode}] emit -> browser, all events: {summary(page_ms)}")
    for status, values in by_status.items():
        print(f"[{stack.async_mode}]   {status}: {summary(values)}")
    print(f"[{stack.async_mode}] {runs} sequential runs of `true` via the API: {elapsed:.1f} s "
          f"({elapsed / runs * 1000:.0f} ms per run, API call -> 'success' in the page)")
    assert not tabs.log(page).errors


def _wait(page, predicate, timeout: float, what: str):
    """Poll ``predicate`` while letting Playwright deliver events (route handlers,
    request listeners run only while a Playwright call is in progress)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        page.wait_for_timeout(50)
