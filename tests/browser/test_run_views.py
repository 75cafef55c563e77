"""Run control in the browser (issue 4), in a real Chromium against the real system
(eventlet server, forking rq worker, Redis): the row's progress bar and Stop button, the
panels above the table (running jobs, recent activity, statistics), the run detail page
(header and a log that follows the output as it is printed), the history page (runs
growing live, "Older runs", the duration chart and the success rate), retrying rows,
and what a viewer is not offered.

Eventlet mode only (``eventlet_stack``): the pages do not depend on the server's async
mode, which tests/browser/test_scheduler_page.py covers in all three."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.browser.scheduler_page import SchedulerPage, run_via_api, sign_in
from tests.support.processes import ADMIN, wait_until

pytestmark = pytest.mark.browser

VIEWER = ("rita", "run-views-viewer-password")
LIVE_MS = 15_000
STEPS = 24
LINES_PER_STEP = 8
# About 10 s (long enough to be stopped mid-run on a busy machine): per step a
# progress line, 8 output lines, every 4th a stderr line.
LONG_COMMAND = (
    f"i=0; while [ $i -lt {STEPS} ]; do i=$((i+1)); "
    f'echo "::progress $((i*100/{STEPS})) step $i of {STEPS}"; '
    f"j=0; while [ $j -lt {LINES_PER_STEP} ]; do j=$((j+1)); echo \"line $i.$j\"; done; "
    'if [ $((i % 4)) -eq 0 ]; then echo "warn $i" >&2; fi; '
    "sleep 0.4; done; echo finished"
)
EXPECTED_STDOUT = [f"line {i}.{j}" for i in range(1, STEPS + 1) for j in range(1, LINES_PER_STEP + 1)]

# Records every distinct value a progress box shows (data-value), in the page.
WATCH_PROGRESS_JS = """
([selector, key]) => {
  const seen = [];
  window[key] = seen;
  const record = () => {
    const box = document.querySelector(selector);
    const value = box && !box.hidden ? box.dataset.value : undefined;
    if (value !== undefined && seen[seen.length - 1] !== value) seen.push(value);
  };
  record();
  new MutationObserver(record).observe(document.body, { subtree: true, attributes: true, childList: true });
}
"""


@pytest.fixture(scope="module")
def stack(eventlet_stack):
    """The module's stack, with a viewer made by the CLI."""
    eventlet_stack.flask("users", "create", VIEWER[0], "--role", "viewer", "--password", VIEWER[1])
    return eventlet_stack


def open_signed_in(page: Page, url: str, credentials: tuple[str, str] = ADMIN) -> None:
    """Load ``url``, signing in on the way when sent to the sign-in form, and wait
    until the page is live."""
    page.goto(url)
    if "/login" in page.url:
        sign_in(page, *credentials)
    expect(page).to_have_url(url)
    expect(page.get_by_test_id("connection")).to_have_text("live", timeout=LIVE_MS)


def csp_violations(tabs, page) -> list[str]:
    return [m for m in tabs.log(page).console if "Content Security Policy" in m]


def log_lines(page: Page) -> list[dict]:
    """The run detail page's log: each line's n, stream class and text."""
    return page.locator('#log [data-testid="log-line"]').evaluate_all(
        "(lines) => lines.map((l) => ({ n: Number(l.dataset.n), cls: l.className, text: l.textContent }))")


def wait_for_run_end(stack, run_id: int, timeout: float = 30) -> dict:
    def ended():
        run = stack.api("GET", f"/runs/{run_id}").json()
        return run if run["status"] not in ("queued", "running", "retrying") else None
    return wait_until(ended, timeout, interval=0.1, what=f"run {run_id} to end")


def shoot(page: Page, tmp_path, name: str) -> None:
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")


def test_long_run_progress_log_and_stop_everywhere(stack, tabs, unique_name, tmp_path):
    task = stack.create_task(unique_name, LONG_COMMAND, description="prints progress and output for ~6 s")
    ui = SchedulerPage(tabs.open(), stack.base_url).open()
    row = ui.row(task["id"])
    panels = ui.page.get_by_test_id("panels")
    expect(row.get_by_test_id("task-link")).to_have_attribute("href", f"/tasks/{task['id']}/history")
    ui.page.evaluate(WATCH_PROGRESS_JS, [f'tr[data-task-id="{task["id"]}"] [data-testid="progress"]', "__rowProgress"])

    started = time.monotonic()
    ui.run_now_button(task["id"]).click()
    ui.expect_status(task["id"], "running", timeout=10_000)
    run_id = int(row.get_attribute("data-run-id"))
    expect(row.get_by_test_id("run-link")).to_have_attribute("href", f"/runs/{run_id}")
    expect(row.get_by_test_id("stop-run")).to_be_visible()
    expect(row.get_by_test_id("stop-run")).to_have_text("Stop")
    # The row's progress bar, with the job's message.
    expect(row.get_by_test_id("progress")).to_be_visible(timeout=5_000)
    expect(row.get_by_test_id("progress")).to_contain_text(re.compile(rf"\d+% · step \d+ of {STEPS}"))
    # The Running Jobs panel shows the run with its progress; the statistics count it.
    job = panels.locator(f'[data-testid="running-job"][data-run-id="{run_id}"]')
    expect(job).to_be_visible()
    expect(job.get_by_test_id("running-link")).to_have_text(task["name"])
    expect(job.get_by_test_id("running-progress")).to_be_visible()
    expect(job.get_by_test_id("elapsed")).to_have_text(re.compile(r"^\d+ s$"))
    expect(panels.get_by_test_id("running-count")).to_have_text("1")
    expect(panels.get_by_test_id("stat-running")).to_have_text("1")
    shoot(ui.page, tmp_path, "scheduler-running")

    # The run detail page, opened mid-run: the lines printed so far, then the rest live.
    detail = tabs.open()
    open_signed_in(detail, f"{stack.base_url}/runs/{run_id}")
    detail.evaluate(WATCH_PROGRESS_JS, ['[data-testid="run-progress"]', "__detailProgress"])
    expect(detail.get_by_test_id("run-status")).to_have_text("running")
    expect(detail.get_by_test_id("run-task-name")).to_have_text(task["name"])
    expect(detail.get_by_test_id("run-trigger")).to_contain_text("manual")
    log = detail.get_by_test_id("log")
    expect(log.get_by_test_id("log-line").first).to_be_visible(timeout=5_000)
    count_then = len(log_lines(detail))
    # More lines arrive while it runs (enough to scroll), and the view follows them.
    detail.wait_for_function(
        "(n) => document.querySelectorAll('#log [data-testid=\"log-line\"]').length >= n",
        arg=max(count_then + 16, 48), timeout=LIVE_MS)
    assert log.evaluate("(el) => el.scrollHeight > el.clientHeight")
    expect(detail.get_by_test_id("run-status")).to_have_text("running")
    expect(detail.get_by_test_id("follow")).to_have_attribute("data-following", "1")
    assert detail.evaluate("() => { const l = document.getElementById('log'); "
                           "return l.scrollHeight - l.scrollTop - l.clientHeight; }") <= 8

    # Scrolling up stops the following; new lines then leave the view where it is.
    log.evaluate("(el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
    expect(detail.get_by_test_id("follow")).to_have_attribute("data-following", "0")
    shown = len(log_lines(detail))
    detail.wait_for_function(
        "(n) => document.querySelectorAll('#log [data-testid=\"log-line\"]').length > n", arg=shown, timeout=LIVE_MS)
    assert log.evaluate("(el) => el.scrollTop") == 0
    expect(detail.get_by_test_id("follow")).to_contain_text("new line")
    detail.get_by_test_id("follow").click()  # back to the bottom, following again
    expect(detail.get_by_test_id("follow")).to_have_attribute("data-following", "1")
    assert log.evaluate("(el) => el.scrollHeight - el.scrollTop - el.clientHeight") <= 8

    # Wait for a stderr line, then stop the run from the detail page.
    expect(log.locator(".log-stderr").first).to_have_text("warn 4", timeout=LIVE_MS)
    assert detail.get_by_test_id("run-status").inner_text() == "running", "the run ended before Stop"
    shoot(detail, tmp_path, "run-detail-running")
    detail.get_by_test_id("stop-run").click()
    expect(detail.get_by_test_id("run-status")).to_have_text("stopped", timeout=LIVE_MS)
    stopped_after = time.monotonic() - started
    expect(detail.get_by_test_id("stop-run")).to_be_hidden()
    expect(detail.get_by_test_id("run-error")).to_contain_text("stopped by an operator")
    expect(detail.get_by_test_id("run-finished")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
    expect(detail.get_by_test_id("run-duration")).to_have_text(re.compile(r"^\d+\.\d s$"))
    expect(detail.get_by_test_id("run-progress")).to_be_hidden()
    # ... and in the scheduler tab, live: the row, the panels, the activity feed.
    ui.expect_status(task["id"], "stopped", timeout=LIVE_MS)
    expect(row.get_by_test_id("stop-run")).to_be_hidden()
    expect(row.get_by_test_id("progress")).to_be_hidden()
    expect(job).to_have_count(0)
    expect(panels.get_by_test_id("running-count")).to_have_text("0")
    expect(panels.get_by_test_id("stat-running")).to_have_text("0")
    # The 24-hour counts, kept by the page from the snapshot's minutes and the live end,
    # agree with the server's.
    day = stack.api("GET", "/panels").json()["stats"]
    expect(panels.get_by_test_id("stat-finished")).to_have_text(f"of {day['finished_24h']} finished")
    expect(panels.get_by_test_id("stat-failed")).to_have_text(str(day["failed_24h"]))
    newest = panels.get_by_test_id("activity-item").first
    expect(newest).to_have_attribute("data-run-id", str(run_id))
    expect(newest).to_have_attribute("data-status", "stopped")
    expect(newest).to_contain_text(task["name"])
    statuses = panels.get_by_test_id("activity-item").evaluate_all(
        f"(items) => items.filter((i) => i.dataset.runId === '{run_id}').map((i) => i.dataset.status)")
    assert statuses[:2] == ["stopped", "running"], statuses  # newest first, no progress reports

    # The progress bars moved: at least two distinct values in the row and the header.
    row_values = ui.page.evaluate("() => window.__rowProgress")
    detail_values = detail.evaluate("() => window.__detailProgress")
    print(f"row progress values: {row_values}; detail progress values: {detail_values}; "
          f"Run Now -> stopped in the detail page: {stopped_after:.1f} s")
    assert len(set(row_values)) >= 2, row_values
    assert [int(v) for v in row_values] == sorted(int(v) for v in row_values), row_values
    assert len(set(detail_values)) >= 2, detail_values

    # The log: every line once, numbered 1, 2, 3, ... with stdout in printed order, no
    # ::progress lines, and stderr styled apart.
    detail.wait_for_timeout(500)  # the last lines are fetched once the run has ended
    lines = log_lines(detail)
    assert [line["n"] for line in lines] == list(range(1, len(lines) + 1)), [line["n"] for line in lines]
    stdout = [line["text"] for line in lines if "log-stdout" in line["cls"]]
    assert stdout == EXPECTED_STDOUT[:len(stdout)] and len(stdout) >= 4 * LINES_PER_STEP, stdout
    assert not any("::progress" in line["text"] for line in lines)
    assert [line["text"] for line in lines if "log-stderr" in line["cls"]][:1] == ["warn 4"]
    expect(detail.get_by_test_id("log-count")).to_have_attribute("data-last", str(len(lines)))
    shoot(detail, tmp_path, "run-detail-stopped")
    shoot(ui.page, tmp_path, "scheduler-after-stop")

    # The badge links to this page, the name to the task's history.
    row.get_by_test_id("run-link").click()
    expect(ui.page).to_have_url(f"{stack.base_url}/runs/{run_id}")
    expect(ui.page.get_by_test_id("run-status")).to_have_text("stopped")
    # Opened after the end, it shows every line at once, the view at the end.
    expect(ui.page.get_by_test_id("log-count")).to_have_attribute("data-last", str(len(lines)))
    expect(ui.page.get_by_test_id("follow")).to_have_text("At the end")
    for tab in (ui.page, detail):
        assert csp_violations(tabs, tab) == []
        assert not tabs.log(tab).errors


def test_history_lists_runs_pages_back_and_grows_live_with_chart(stack, tabs, unique_name, tmp_path):
    # Every 4th run fails, the others succeed: a chart with both colours.
    counter = stack.workdir / f"count-{unique_name}"
    command = (f'n=$(($(cat "{counter}" 2>/dev/null || echo 0)+1)); echo $n > "{counter}"; '
               'echo "run $n"; [ $((n % 4)) -ne 0 ]')
    task = stack.create_task(unique_name, command)
    made = []
    for _ in range(26):  # one more than the page shows at first
        made.append(run_via_api(stack, task["id"])["run_id"])
        wait_for_run_end(stack, made[-1])

    page = tabs.open()
    url = f"{stack.base_url}/tasks/{task['id']}/history"
    open_signed_in(page, url)
    expect(page.get_by_test_id("history-task-name")).to_have_text(task["name"])
    rows = page.get_by_test_id("run-row")
    expect(rows).to_have_count(25)
    expect(rows.first).to_have_attribute("data-run-id", str(made[-1]))
    expect(rows.first.get_by_test_id("run-link")).to_have_attribute("href", f"/runs/{made[-1]}")
    failed_row = page.locator(f'[data-testid="run-row"][data-run-id="{made[3]}"]')
    expect(failed_row.get_by_test_id("status")).to_have_text("failed")
    expect(failed_row.get_by_test_id("run-error")).to_contain_text("exit code 1")
    # The chart: a canvas with one point per finished run, in both colours.
    chart = page.get_by_test_id("duration-chart")
    expect(chart.locator("canvas").first).to_be_visible()
    expect(chart).to_have_attribute("data-point-count", "26")
    expect(chart).to_have_attribute("data-failed-count", "6")
    expect(chart).to_have_attribute("data-success-count", "20")
    stats = stack.api("GET", f"/tasks/{task['id']}/stats").json()
    expect(page.get_by_test_id("success-rate")).to_have_text(f"{stats['success_rate'] * 100:.1f}%")
    expect(page.get_by_test_id("count-failed")).to_have_text("6")
    chart.locator(".u-over").hover()  # the readout names the run under the cursor
    expect(page.get_by_test_id("chart-readout")).to_contain_text(re.compile(r"^Run #\d+ · (success|failed) · "))
    assert not tabs.log(page).errors

    # "Older runs" brings the 26th, on a click; then there is nothing older.
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.get_by_test_id("older-runs").click()
    expect(rows).to_have_count(26)
    expect(rows.last).to_have_attribute("data-run-id", str(made[0]))
    expect(page.get_by_test_id("older-runs")).to_be_hidden()
    expect(page.get_by_test_id("no-older")).to_be_visible()
    assert [u for u in requests if "/api/" in u] == [
        f"{stack.base_url}/api/tasks/{task['id']}/runs?before={made[1]}&limit=25"], requests

    # A new run appears at the top, live; when it ends the chart and the rate follow.
    newest = run_via_api(stack, task["id"])["run_id"]
    expect(rows.first).to_have_attribute("data-run-id", str(newest), timeout=LIVE_MS)
    expect(rows).to_have_count(27)
    expect(rows.first.get_by_test_id("status")).to_have_text("success", timeout=LIVE_MS)  # run 27: 27 % 4 != 0
    expect(rows.first.get_by_test_id("run-duration")).to_have_text(re.compile(r"^\d+ ms$|^\d+\.\d s$"))
    expect(chart).to_have_attribute("data-point-count", "27")
    stats = stack.api("GET", f"/tasks/{task['id']}/stats").json()
    expect(page.get_by_test_id("success-rate")).to_have_text(f"{stats['success_rate'] * 100:.1f}%")
    # Live means Socket.IO: the page asked the API nothing more.
    assert len([u for u in requests if "/api/" in u]) == 1, requests
    shoot(page, tmp_path, "history")
    assert csp_violations(tabs, page) == []
    assert not tabs.log(page).errors

    # The scheduler row's name leads here.
    ui = SchedulerPage(tabs.open(), stack.base_url).open()
    ui.row(task["id"]).get_by_test_id("task-link").click()
    expect(ui.page).to_have_url(url)
    expect(ui.page.get_by_test_id("run-row")).to_have_count(25)


def test_retrying_row_shows_attempt_and_next_time_and_cancel_ends_it(stack, tabs, unique_name, tmp_path):
    task = stack.create_task(unique_name, "echo nope >&2; exit 3", retries={"max": 2, "backoff": [30]})
    ui = SchedulerPage(tabs.open(), stack.base_url).open()
    row = ui.row(task["id"])
    run_id = run_via_api(stack, task["id"])["run_id"]
    ui.expect_status(task["id"], "retrying")
    expect(row.get_by_test_id("retry-info")).to_have_text(
        re.compile(r"^\(attempt 1 of 3\), next at \d\d:\d\d:\d\d$"))
    expect(row.locator(".col-status")).to_contain_text(re.compile(r"retrying\s+\(attempt 1 of 3\), next at"))
    job = ui.page.locator(f'[data-testid="running-job"][data-run-id="{run_id}"]')
    expect(job).to_contain_text("(attempt 1 of 3), next at")
    expect(ui.page.get_by_test_id("stat-waiting")).to_contain_text("1 retrying")
    expect(ui.toasts).to_have_count(0)  # only the final state deserves a toast
    shoot(ui.page, tmp_path, "scheduler-retrying")

    stop = row.get_by_test_id("stop-run")
    expect(stop).to_have_text("Cancel")
    stop.click()
    ui.expect_status(task["id"], "canceled")
    expect(row.get_by_test_id("retry-info")).to_be_hidden()
    expect(stop).to_be_hidden()
    expect(job).to_have_count(0)
    expect(ui.page.get_by_test_id("activity-item").first).to_have_attribute("data-status", "canceled")
    assert stack.api("GET", f"/runs/{run_id}").json()["status"] == "canceled"
    assert not tabs.log(ui.page).errors


def test_viewer_watches_runs_but_is_offered_no_stop(stack, tabs, unique_name):
    task = stack.create_task(unique_name, LONG_COMMAND)
    run_id = run_via_api(stack, task["id"])["run_id"]
    try:
        ui = SchedulerPage(tabs.open(), stack.base_url).open(credentials=VIEWER)
        ui.expect_status(task["id"], "running")
        expect(ui.row(task["id"]).get_by_test_id("progress")).to_be_visible(timeout=5_000)
        expect(ui.page.locator(f'[data-testid="running-job"][data-run-id="{run_id}"]')).to_be_visible()
        assert ui.page.get_by_test_id("stop-run").count() == 0

        detail = tabs.open()
        open_signed_in(detail, f"{stack.base_url}/runs/{run_id}", VIEWER)
        expect(detail.get_by_test_id("run-status")).to_have_text("running")
        expect(detail.get_by_test_id("log-line").first).to_be_visible(timeout=5_000)
        assert detail.get_by_test_id("stop-run").count() == 0

        # An operator (here: the admin, through the API) stops it; the viewer sees it live.
        assert stack.api("POST", f"/runs/{run_id}/stop").status_code == 202
        expect(detail.get_by_test_id("run-status")).to_have_text("stopped", timeout=LIVE_MS)
        ui.expect_status(task["id"], "stopped")
        # The server refuses a viewer's stop anyway.
        status = detail.evaluate(
            """async (id) => (await fetch(`/api/runs/${id}/stop`, { method: 'POST', headers: {
                 'X-CSRFToken': document.querySelector('meta[name="csrf-token"]').content } })).status""",
            run_id)
        assert status == 403
        for tab in (ui.page, detail):
            assert not tabs.log(tab).errors
    finally:
        stack.api("POST", f"/runs/{run_id}/stop")
