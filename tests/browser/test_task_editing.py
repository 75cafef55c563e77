"""Task editing on the scheduler page (issue 3), in a real Chromium against the real
system: the create/edit dialog with its validation and schedule preview, delete with
confirmation, task changes and the global pause reaching every open tab live, the
filters, and what each role may touch.

Eventlet mode only (``eventlet_stack``): the page's behaviour does not depend on the
server's async mode, which tests/browser/test_scheduler_page.py covers in both."""
from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.scheduler_page import (
    SchedulerPage,
    open_edit_dialog,
    open_new_task_dialog,
    row_by_name,
    run_via_api,
    task_names,
)
from tests.support.processes import VENV_BIN, Process

pytestmark = pytest.mark.browser

UTC = timezone.utc
FIRE_TIMEOUT_MS = 30_000


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _z(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _banner(ui: SchedulerPage):
    return ui.page.get_by_test_id("scheduler-banner")


def test_task_created_in_dialog_fires_on_its_schedule(eventlet_stack, page, tabs, unique_name, tmp_path):
    stack = eventlet_stack
    scheduler = Process(f"scheduler-{stack.port}-ui", [str(VENV_BIN / "python"), "-m", "worker.scheduler"],
                        stack.env, stack.workdir).start()
    task_id = None
    try:
        ui = SchedulerPage(page, stack.base_url).open()
        dialog = open_new_task_dialog(ui)
        expect(dialog.root.get_by_test_id("task-dialog-title")).to_have_text("New task")
        dialog.fill(name=unique_name, description="fires every two seconds", command="echo fired",
                    schedule="interval", interval=2, timezone="UTC")
        # The preview: the next five fires, two seconds apart.
        expect(dialog.preview_fires).to_have_count(5)
        fires = [_utc(text) for text in dialog.preview_utc()]
        assert all(b - a == timedelta(seconds=2) for a, b in zip(fires, fires[1:])), fires
        shot = tmp_path / "dialog-new-interval.png"
        page.screenshot(path=str(shot))
        print(f"screenshot: {shot}")

        dialog.save()
        dialog.expect_closed()
        row = row_by_name(ui, unique_name)
        expect(row).to_have_count(1)
        expect(row.get_by_test_id("schedule")).to_have_text("every 2 s")
        task_id = int(row.get_attribute("data-task-id"))
        stored = stack.api("GET", f"/tasks/{task_id}").json()
        assert stored["schedule"] == {"type": "interval", "seconds": 2}, stored
        assert stored["config"] == {"command": "echo fired"} and stored["description"] == "fires every two seconds"

        # Nobody presses Run Now: the scheduler fires it and the row shows that run.
        expect(row).to_have_attribute("data-run-trigger", "schedule", timeout=FIRE_TIMEOUT_MS)
        ui.expect_status(task_id, "success", timeout=FIRE_TIMEOUT_MS)
        expect(row.get_by_test_id("trigger")).to_have_text("scheduled")
        expect(row.get_by_test_id("next-run").locator("time")).to_have_attribute(
            "datetime", re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"))
        runs = stack.api("GET", f"/tasks/{task_id}/runs").json()["runs"]
        assert runs and all(run["trigger"] == "schedule" for run in runs), runs
        assert any(run["status"] == "success" for run in runs), runs

        shot = tmp_path / "scheduler-with-schedules.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
        assert not tabs.log(page).errors
    finally:
        scheduler.stop()
        if task_id is not None:
            stack.api("DELETE", f"/tasks/{task_id}")


def test_invalid_input_is_shown_next_to_its_field_and_nothing_is_stored(eventlet_stack, page, tabs, unique_name):
    stack = eventlet_stack
    taken = stack.create_task(f"{unique_name}-taken", "true")
    ui = SchedulerPage(page, stack.base_url).open()
    before = task_names(stack)
    name = f"{unique_name}-new"
    dialog = open_new_task_dialog(ui)

    # An invalid cron expression: the preview says so while typing, Save names the field.
    dialog.fill(name=name, command="true", schedule="cron", cron="61 * * * *", timezone="UTC")
    expect(dialog.preview_error).to_contain_text("invalid cron expression")
    expect(dialog.preview_fires).to_have_count(0)
    dialog.save()
    expect(dialog.error("schedule.expr")).to_contain_text("invalid cron expression")
    expect(dialog.field("cron")).to_have_attribute("aria-invalid", "true")
    expect(dialog.field("cron")).to_be_focused()
    expect(dialog.root).to_be_visible()
    assert task_names(stack) == before
    dialog.fill(cron="30 2 * * *")  # typing in the field clears its error
    expect(dialog.error("schedule.expr")).to_be_hidden()
    expect(dialog.preview_fires).to_have_count(5)

    # An unknown zone.
    dialog.fill(timezone="Mars/Olympus_Mons")
    expect(dialog.preview_error).to_contain_text("unknown time zone")
    dialog.save()
    expect(dialog.error("timezone")).to_contain_text("unknown time zone")
    assert task_names(stack) == before

    # A name another task has.
    dialog.fill(timezone="Europe/London", name=taken["name"])
    dialog.save()
    expect(dialog.error("name")).to_contain_text("already exists")
    expect(dialog.error("timezone")).to_be_hidden()
    assert task_names(stack) == before

    # An empty command.
    dialog.fill(name=name, command="   ")
    dialog.save()
    expect(dialog.error("config.command")).to_contain_text("command")
    expect(dialog.error("name")).to_be_hidden()
    assert task_names(stack) == before

    # Python arguments that are not JSON: the page tells without asking the server.
    dialog.field("kind").select_option("python")
    expect(dialog.field("command")).to_be_hidden()
    dialog.field("callable").fill("worker.examples:count_primes")
    dialog.field("kwargs").fill("{limit: 5}")
    dialog.save()
    expect(dialog.error("config.kwargs")).to_contain_text("not valid JSON")
    # A module the server does not allow.
    dialog.field("callable").fill("os:system")
    dialog.field("kwargs").fill("")
    dialog.save()
    expect(dialog.error("config.callable")).to_contain_text("not allowed")
    assert task_names(stack) == before

    dialog.root.get_by_test_id("dialog-cancel").click()
    dialog.expect_closed()
    expect(row_by_name(ui, name)).to_have_count(0)
    assert task_names(stack) == before
    assert not tabs.log(page).errors
    stack.api("DELETE", f"/tasks/{taken['id']}")


def test_preview_shows_the_march_change_in_london(eventlet_stack, page, tabs, tmp_path):
    ui = SchedulerPage(page, eventlet_stack.base_url).open()
    dialog = open_new_task_dialog(ui)
    dialog.fill(schedule="cron", cron="30 2 * * *", timezone="Europe/London")
    dialog.root.get_by_test_id("preview-from").fill("2027-03-25")

    # 02:30 London on 25-29 March 2027; the clocks go forward on Sunday the 28th.
    london = ZoneInfo("Europe/London")
    expected = [datetime(2027, 3, day, 2, 30, tzinfo=london) for day in range(25, 30)]
    expected_utc = [_z(e) for e in expected]
    assert [e.astimezone(UTC).hour for e in expected] == [2, 2, 2, 1, 1]
    expect(dialog.preview_fires.last).to_have_attribute("data-utc", expected_utc[-1])
    assert dialog.preview_utc() == expected_utc

    local_texts = dialog.root.get_by_test_id("fire-local").all_inner_texts()
    utc_texts = dialog.root.get_by_test_id("fire-utc").all_inner_texts()
    for wall, local, utc in zip(expected, local_texts, utc_texts):
        assert "02:30" in local and str(wall.day) in local, local_texts
        assert wall.astimezone(UTC).strftime("%H:%M") in utc and "UTC" in utc, utc_texts
    # The fire after the change is marked.
    changes = dialog.preview_fires.filter(has=page.locator(".fire-offset-change"))
    expect(changes).to_have_count(1)
    expect(changes).to_have_attribute("data-utc", expected_utc[3])

    shot = tmp_path / "dialog-preview-march.png"
    page.screenshot(path=str(shot))
    print(f"screenshot: {shot}")
    dialog.root.get_by_test_id("dialog-cancel").click()
    dialog.expect_closed()
    assert not tabs.log(page).errors


def test_other_tab_sees_create_rename_toggle_and_delete_live(eventlet_stack, tabs, unique_name, tmp_path):
    stack = eventlet_stack
    first = SchedulerPage(tabs.open(), stack.base_url).open()
    second = SchedulerPage(tabs.open(), stack.base_url).open()
    second.mark_document()

    dialog = open_new_task_dialog(first)
    dialog.fill(name=unique_name, command="true")
    dialog.save()
    dialog.expect_closed()
    expect(row_by_name(second, unique_name)).to_have_count(1)
    task_id = int(row_by_name(first, unique_name).get_attribute("data-task-id"))
    expect(second.row(task_id).get_by_test_id("schedule")).to_have_text("manual")
    expect(second.status(task_id)).to_have_text("never run")

    # Rename it and give it a cron schedule, in the first tab.
    dialog = open_edit_dialog(first, task_id)
    expect(dialog.field("name")).to_have_value(unique_name)
    expect(dialog.field("command")).to_have_value("true")
    expect(dialog.root.get_by_test_id("dialog-save")).to_have_text("Save changes")
    renamed = f"{unique_name}-renamed"
    dialog.fill(name=renamed, schedule="cron", cron="0 3 * * *", timezone="Europe/London")
    dialog.save()
    dialog.expect_closed()
    expect(second.row(task_id).locator("td.col-name")).to_have_text(renamed)
    expect(second.row(task_id).get_by_test_id("schedule")).to_have_text("cron 0 3 * * * (Europe/London)")
    stored = stack.api("GET", f"/tasks/{task_id}").json()
    assert stored["name"] == renamed and stored["schedule"] == {"type": "cron", "expr": "0 3 * * *"}
    expect(second.row(task_id).get_by_test_id("next-run").locator("time")).to_have_attribute(
        "datetime", stored["next_run_at"])

    # Disable and enable it with the switch.
    first.row(task_id).get_by_test_id("enabled-toggle").click()
    expect(second.row(task_id)).to_have_class(re.compile(r"\btask-disabled\b"))
    expect(second.row(task_id).get_by_test_id("enabled-toggle")).not_to_be_checked()
    expect(second.row(task_id).get_by_test_id("next-run")).to_have_text("—")
    assert stack.api("GET", f"/tasks/{task_id}").json()["enabled"] is False
    first.row(task_id).get_by_test_id("enabled-toggle").click()
    expect(second.row(task_id).get_by_test_id("enabled-toggle")).to_be_checked()
    expect(second.row(task_id)).not_to_have_class(re.compile(r"\btask-disabled\b"))
    assert stack.api("GET", f"/tasks/{task_id}").json()["enabled"] is True

    # Delete asks first; Cancel keeps the task.
    confirm = first.page.get_by_test_id("confirm-dialog")
    first.row(task_id).get_by_test_id("delete-task").click()
    expect(confirm).to_be_visible()
    expect(confirm.get_by_test_id("confirm-title")).to_contain_text(renamed)
    shot = tmp_path / "confirm-delete.png"
    first.page.screenshot(path=str(shot))
    print(f"screenshot: {shot}")
    confirm.get_by_test_id("confirm-cancel").click()
    expect(confirm).to_be_hidden()
    assert stack.api("GET", f"/tasks/{task_id}").status_code == 200
    first.row(task_id).get_by_test_id("delete-task").click()
    confirm.get_by_test_id("confirm-ok").click()
    expect(confirm).to_be_hidden()
    expect(first.row(task_id)).to_have_count(0)
    expect(second.row(task_id)).to_have_count(0)
    assert stack.api("GET", f"/tasks/{task_id}").status_code == 404

    assert second.still_same_document(), "the second tab reloaded"
    for tab in (first, second):
        assert tabs.log(tab.page).dialogs == [], "a native dialog was used"
        assert not tabs.log(tab.page).errors


def test_filters_and_search_hide_and_show_rows(eventlet_stack, page, tabs, unique_name):
    stack = eventlet_stack
    prefix = unique_name
    backup = stack.create_task(f"{prefix} alpha backup", "true", description="nightly tarball of /etc")
    scan = stack.create_task(f"{prefix} beta scan", "true", enabled=False)
    primes = stack.create_task(f"{prefix} gamma primes", kind="python",
                               config={"callable": "worker.examples:count_primes", "kwargs": {"limit": 100}})
    ui = SchedulerPage(page, stack.base_url).open()
    run_via_api(stack, backup["id"])
    ui.expect_status(backup["id"], "success")
    ids = {"backup": backup["id"], "scan": scan["id"], "primes": primes["id"]}

    def shown(*names: str) -> None:
        for key, task_id in ids.items():
            if key in names:
                expect(ui.row(task_id)).to_be_visible()
            else:
                expect(ui.row(task_id)).to_be_hidden()

    count = page.get_by_test_id("task-count")
    total = len(task_names(stack))
    expect(count).to_have_text(f"{total} of {total} tasks")
    search = page.get_by_test_id("filter-search")
    search.fill(prefix)
    expect(count).to_have_text(f"3 of {total} tasks")
    shown("backup", "scan", "primes")
    search.fill(f"{prefix.upper()} TARBALL")  # name and description, any case
    shown("backup")
    search.fill(prefix)

    page.get_by_test_id("filter-kind").select_option("python")
    shown("primes")
    page.get_by_test_id("filter-kind").select_option("")
    page.get_by_test_id("filter-enabled").select_option("disabled")
    shown("scan")
    page.get_by_test_id("filter-enabled").select_option("enabled")
    shown("backup", "primes")
    page.get_by_test_id("filter-enabled").select_option("")
    page.get_by_test_id("filter-status").select_option("success")
    shown("backup")
    page.get_by_test_id("filter-status").select_option("none")
    shown("scan", "primes")
    expect(count).to_have_text(f"2 of {total} tasks")

    # Rows arriving or changing live respect the filters (search + "never run").
    arriving = stack.create_task(f"{prefix} delta arriving", "true")
    other = stack.create_task(f"unmatched-{os.getpid()}-{arriving['id']}", "true")
    expect(ui.row(arriving["id"])).to_be_visible()
    expect(ui.row(other["id"])).to_have_count(1)
    expect(ui.row(other["id"])).to_be_hidden()
    expect(count).to_have_text(f"3 of {total + 2} tasks")
    run_via_api(stack, arriving["id"])
    expect(ui.row(arriving["id"])).to_be_hidden()  # it ran: no longer "never run"
    stack.api("PATCH", f"/tasks/{primes['id']}", json={"name": f"renamed-{os.getpid()}-{primes['id']}"})
    expect(ui.row(primes["id"])).to_be_hidden()  # renamed: no longer matches the search
    expect(count).to_have_text(f"1 of {total + 2} tasks")

    search.fill("no task is called this 7f3a")
    expect(page.get_by_test_id("no-matches")).to_be_visible()
    expect(count).to_have_text(f"0 of {total + 2} tasks")
    page.get_by_test_id("filter-clear").click()
    expect(count).to_have_text(f"{total + 2} of {total + 2} tasks")
    expect(page.get_by_test_id("no-matches")).to_have_count(0)
    expect(search).to_have_value("")
    assert not tabs.log(page).errors
    for task_id in [*ids.values(), arriving["id"], other["id"]]:
        stack.api("DELETE", f"/tasks/{task_id}")


def test_each_role_sees_only_the_controls_it_may_use(eventlet_stack, tabs, unique_name):
    stack = eventlet_stack
    task = stack.create_task(unique_name, "true")
    suffix = os.getpid()
    viewer = (f"viewer{suffix}", "viewer-password-123")
    operator = (f"operator{suffix}", "operator-password-123")
    stack.flask("users", "create", viewer[0], "--role", "viewer", "--password", viewer[1])
    stack.flask("users", "create", operator[0], "--role", "operator", "--password", operator[1])

    seen = SchedulerPage(tabs.open(), stack.base_url).open(credentials=viewer)
    expect(seen.row(task["id"])).to_be_visible()
    for testid in ("new-task", "scheduler-toggle", "edit-task", "delete-task", "enabled-toggle",
                   "run-now", "task-dialog", "confirm-dialog"):
        expect(seen.page.get_by_test_id(testid)).to_have_count(0)
    expect(seen.row(task["id"]).get_by_test_id("enabled-text")).to_have_text("on")
    # A task arriving live comes without controls too.
    arriving = stack.create_task(f"{unique_name}-arriving", "true")
    expect(seen.row(arriving["id"])).to_be_visible()
    expect(seen.row(arriving["id"]).locator("button, input")).to_have_count(0)

    ops = SchedulerPage(tabs.open(), stack.base_url).open(credentials=operator)
    for testid in ("new-task", "edit-task", "delete-task", "task-dialog"):
        expect(ops.page.get_by_test_id(testid)).to_have_count(0)
    expect(ops.run_now_button(task["id"])).to_be_visible()
    expect(ops.page.get_by_test_id("scheduler-toggle")).to_be_visible()
    toggle = ops.row(task["id"]).get_by_test_id("enabled-toggle")
    toggle.click()  # operators may disable
    expect(seen.row(task["id"]).get_by_test_id("enabled-text")).to_have_text("off")
    expect(seen.row(task["id"])).to_have_class(re.compile(r"\btask-disabled\b"))
    assert stack.api("GET", f"/tasks/{task['id']}").json()["enabled"] is False
    toggle.click()
    expect(seen.row(task["id"]).get_by_test_id("enabled-text")).to_have_text("on")
    for tab in (seen, ops):
        assert not tabs.log(tab.page).errors
    for created in (task, arriving):
        stack.api("DELETE", f"/tasks/{created['id']}")


def test_pause_banner_and_changes_missed_while_disconnected(eventlet_stack, tabs, unique_name, tmp_path):
    stack = eventlet_stack
    keep = stack.create_task(f"{unique_name}-keep", "true")
    gone = stack.create_task(f"{unique_name}-gone", "true")
    first = SchedulerPage(tabs.open(), stack.base_url).open()
    second = SchedulerPage(tabs.open(), stack.base_url).open()
    second.mark_document()
    created = None
    try:
        # Pause and resume from the first tab; the second follows live.
        expect(_banner(second)).to_be_hidden()
        first.page.get_by_test_id("scheduler-toggle").click()
        expect(_banner(second)).to_be_visible()
        expect(_banner(second)).to_contain_text("Scheduler paused by admin since")
        expect(second.page.get_by_test_id("scheduler-toggle")).to_have_text("Resume scheduler")
        assert stack.api("GET", "/scheduler").json()["paused"] is True
        shot = tmp_path / "paused.png"
        second.page.screenshot(path=str(shot))
        print(f"screenshot: {shot}")
        first.page.get_by_test_id("scheduler-toggle").click()
        expect(_banner(second)).to_be_hidden()
        expect(second.page.get_by_test_id("scheduler-toggle")).to_have_text("Pause scheduler")

        # Changes made while the second tab is disconnected arrive when it reconnects.
        second.page.evaluate("() => window.taskpulse.socket.disconnect()")
        second.expect_connection("offline")
        renamed = f"{unique_name}-kept-renamed"
        assert stack.api("PATCH", f"/tasks/{keep['id']}", json={"name": renamed}).status_code == 200
        assert stack.api("DELETE", f"/tasks/{gone['id']}").status_code == 204
        created = stack.create_task(f"{unique_name}-created", "true")
        assert stack.api("POST", "/scheduler/pause").status_code == 200
        expect(second.row(gone["id"])).to_be_visible()  # still as it was while offline
        second.page.get_by_test_id("reconnect").click()
        second.expect_connection("live")
        expect(second.row(keep["id"]).locator("td.col-name")).to_have_text(renamed)
        expect(second.row(gone["id"])).to_have_count(0)
        expect(second.row(created["id"])).to_be_visible()
        expect(_banner(second)).to_be_visible()
        assert second.still_same_document(), "the second tab reloaded"

        # A page opened while paused shows the banner straight away.
        third = SchedulerPage(tabs.open(), stack.base_url).open()
        expect(_banner(third)).to_be_visible()
        expect(third.page.get_by_test_id("scheduler-toggle")).to_have_text("Resume scheduler")
        for tab in (first, second, third):
            assert not tabs.log(tab.page).errors
    finally:
        stack.api("POST", "/scheduler/resume")
        for task in (keep, created):
            if task:
                stack.api("DELETE", f"/tasks/{task['id']}")
