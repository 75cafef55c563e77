"""A newcomer's first minute (issue 19, item 7), in a real Chromium against the real
system seeded as ``make run`` seeds it (``flask db upgrade --seed``, as
scripts/run-local.sh runs it) with a real scheduler process: an example task is
scheduled to fire within 60 s, it does fire (the open scheduler page shows its run
arrive live), and the example with a progress bar shows one.

The same test takes the README's screenshot of the scheduler page at that moment: always
into /test-artifacts/ (git-ignored), and into docs/images/scheduler.png (committed) when
TASKPULSE_README_SCREENSHOT=1 (`make screenshot`)."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from tests.browser.comfort_pages import artifact, wait_status
from tests.browser.scheduler_page import SchedulerPage, row_by_name
from tests.support.processes import ROOT, VENV_BIN, Process, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.pages_only]

README_SCREENSHOT = ROOT / "docs" / "images" / "scheduler.png"
FIRE_SLACK_S = 10  # the scheduler's tick and a loaded machine, past the due instant


def parse(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def newcomer(eventlet_stack):
    """The stack with make run's example tasks and a scheduler process."""
    stack = eventlet_stack
    seeded_at = datetime.now(timezone.utc)
    out = stack.flask("db", "upgrade", "--seed").stdout
    assert "seeded" in out, out
    scheduler = Process(f"scheduler-{stack.port}", [str(VENV_BIN / "python"), "-m", "worker.scheduler"],
                        stack.service_env(), stack.workdir).start()
    yield stack, seeded_at
    scheduler.stop()


def tasks_by_name(stack) -> dict[str, dict]:
    return {task["name"]: task for task in stack.api("GET", "/tasks").json()["tasks"]}


def test_a_newcomer_sees_a_scheduled_fire_within_a_minute_and_a_progress_bar(newcomer, page):
    stack, seeded_at = newcomer
    tasks = tasks_by_name(stack)
    scheduled = [t for t in tasks.values() if t["enabled"] and t["next_run_at"]]
    assert scheduled, f"no example task is scheduled: {sorted(tasks)}"
    first = min(scheduled, key=lambda t: t["next_run_at"])
    due = parse(first["next_run_at"])
    assert due - seeded_at <= timedelta(seconds=60), f"{first['name']} first fires at {due}, seeded at {seeded_at}"

    ui = SchedulerPage(page, stack.base_url).open()
    row = row_by_name(ui, first["name"])
    if datetime.now(timezone.utc) < due - timedelta(seconds=2):
        # Not due yet (the usual case), so what follows shows the run arriving on the
        # open page, live, without a reload.
        expect(row.get_by_test_id("status")).to_have_text("never run")
    ui.expect_status(first["id"], "success", timeout=(due - datetime.now(timezone.utc)).total_seconds() * 1000
                     + (FIRE_SLACK_S + 20) * 1000)
    run = stack.api("GET", f"/tasks/{first['id']}/runs").json()["runs"][-1]
    assert run["trigger"] == "schedule"
    fired = parse(run["queued_at"])
    assert fired - due <= timedelta(seconds=FIRE_SLACK_S), f"due {due}, fired {fired}"
    print(f"first scheduled fire {(fired - seeded_at).total_seconds():.1f} s after seeding ({first['name']})")

    # Run Now on an example with a progress bar: the row shows the bar moving.
    batch = next(t for t in tasks.values() if "progress" in t["name"].lower())
    ui.run_now_button(batch["id"]).click()
    box = ui.row(batch["id"]).get_by_test_id("progress")
    expect(box.locator("progress")).to_be_visible(timeout=20_000)
    wait_until(lambda: 15 <= float(box.get_attribute("data-value") or 0) <= 80, 20, what="the progress bar to move")
    expect(ui.row(batch["id"]).get_by_test_id("status")).to_have_text("running")

    page.screenshot(path=str(artifact("scheduler-first-run.png")))
    if os.environ.get("TASKPULSE_README_SCREENSHOT") == "1":
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(README_SCREENSHOT))
    run_id = int(ui.row(batch["id"]).get_attribute("data-run-id"))
    wait_status(stack, run_id, "success")
