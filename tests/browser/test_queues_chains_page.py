"""Queues, chains and concurrency groups on the pages, in a real Chromium against the
real system: an admin puts a scan on the scanner pool, tags it, chains "update
database -> scan" and caps the tag, all in the page; a second tab sees each change
live, says "no worker for queue scanners" until a worker of that pool starts, and shows
the chained run; the run page names the run that started it."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.scheduler_page import LIVE_TIMEOUT_MS, RUN_TIMEOUT_MS, SchedulerPage, open_edit_dialog

pytestmark = pytest.mark.browser


def test_scans_on_their_pool_chained_and_capped_show_live(eventlet_stack, tabs, unique_name):
    stack = eventlet_stack
    scan = stack.create_task(f"{unique_name}-scan", "echo scanning")
    update = stack.create_task(f"{unique_name}-update-db", "echo updated")
    admin = SchedulerPage(tabs.open(), stack.base_url).open()
    watcher = SchedulerPage(tabs.open(), stack.base_url).open()

    # The scan goes to the scanner pool, tagged "scan".
    dialog = open_edit_dialog(admin, scan["id"])
    expect(dialog.field("queue")).to_have_value("taskpulse")
    dialog.field("queue").fill("scanners")
    dialog.field("tags").fill("scan, nightly")
    dialog.save()
    dialog.expect_closed()
    meta = watcher.row(scan["id"]).get_by_test_id("task-meta")
    expect(meta).to_have_text("queue scanners #scan #nightly", timeout=LIVE_TIMEOUT_MS)
    note = watcher.row(scan["id"]).get_by_test_id("no-worker")
    expect(note).to_have_text("no worker for queue scanners", timeout=LIVE_TIMEOUT_MS)
    expect(watcher.row(update["id"]).get_by_test_id("no-worker")).to_be_hidden()

    # A chain to a task that does not exist is refused next to the field; then the real one.
    dialog = open_edit_dialog(admin, update["id"])
    dialog.field("then").fill("success: nobody-by-this-name")
    dialog.save()
    expect(dialog.error("then")).to_contain_text("no task named 'nobody-by-this-name'")
    dialog.field("then").fill(f"success: {scan['name']}")
    dialog.save()
    dialog.expect_closed()
    assert stack.api("GET", f"/tasks/{update['id']}").json()["then"] == [{"task": scan["name"], "when": "success"}]

    # Scans capped at two, set in the page, seen in the other tab.
    groups = admin.page.get_by_test_id("groups")
    groups.get_by_test_id("group-tag").fill("scan")
    groups.get_by_test_id("group-limit").fill("0")
    groups.get_by_test_id("group-save").click()
    expect(groups.get_by_test_id("group-error")).to_contain_text("concurrency.scan")
    groups.get_by_test_id("group-limit").fill("2")
    groups.get_by_test_id("group-save").click()
    expect(watcher.page.get_by_test_id("groups").get_by_test_id("group-text")).to_have_text(
        "#scan: at most 2 at once", timeout=LIVE_TIMEOUT_MS)

    # The scanner pool starts: the note goes away live; the chain runs the scan there.
    worker = stack.start_worker(queues=("scanners",))
    expect(note).to_be_hidden(timeout=LIVE_TIMEOUT_MS)
    admin.run_now_button(update["id"]).click()
    watcher.expect_status(update["id"], "success")
    watcher.expect_status(scan["id"], "success", timeout=RUN_TIMEOUT_MS)
    expect(watcher.row(scan["id"]).get_by_test_id("trigger")).to_have_text("chained")

    # The scan's run page names the run that started it; that run's page lists the scan.
    runs = stack.api("GET", f"/tasks/{scan['id']}/runs").json()["runs"]
    assert runs[0]["worker"] == worker.name and runs[0]["trigger"] == "chain"
    page = watcher.page
    page.goto(f"{stack.base_url}/runs/{runs[0]['id']}")
    parent = page.get_by_test_id("run-parent")
    expect(parent).to_contain_text(f"{update['name']} run #{runs[0]['parent_run_id']}")
    parent.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/runs/{runs[0]['parent_run_id']}$"))
    expect(page.get_by_test_id("run-child-link")).to_have_text(f"{scan['name']} run #{runs[0]['id']}")
