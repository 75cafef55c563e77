"""Run Now with parameters in a real Chromium against the real system (eventlet server,
forking rq worker, Redis): the "Run with..." form shows the task's parameters with their
defaults, puts the server's refusal next to the field it names, runs with the values
typed, the run page shows them, and Run again repeats them in one click. The task
dialog edits params and env; the Secrets page sets a secret and never shows it."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.scheduler_page import SchedulerPage, open_edit_dialog, sign_in
from tests.support.processes import ADMIN

pytestmark = pytest.mark.browser
LIVE_MS = 20_000


def test_an_operator_runs_scan_host_with_a_target_sees_it_and_runs_it_again(eventlet_stack, tabs, unique_name):
    stack = eventlet_stack
    task = stack.create_task(unique_name, 'echo "scanning $PARAM_TARGET on $PARAM_PORTS ($PARAM_PROFILE)"', params=[
        {"name": "target", "type": "string", "required": True},
        {"name": "ports", "type": "integer", "default": 443},
        {"name": "profile", "type": "choice", "choices": ["quick", "full"], "default": "quick"},
    ])
    ui = SchedulerPage(tabs.open(), stack.base_url).open()
    page = ui.page
    ui.run_now_button(task["id"]).click()
    form = page.get_by_test_id("run-with-dialog")
    expect(form).to_be_visible()
    expect(page.get_by_test_id("run-with-title")).to_contain_text(unique_name)
    expect(page.get_by_test_id("run-param-ports")).to_have_value("443")
    expect(page.get_by_test_id("run-param-profile")).to_have_value("quick")
    expect(page.get_by_test_id("run-param-target")).to_have_value("")

    # Nothing typed for the required target: the server's 400 goes next to its field.
    page.get_by_test_id("run-with-run").click()
    expect(page.get_by_test_id("run-param-error-target")).to_have_text("is required")
    expect(page.get_by_test_id("run-param-target")).to_have_attribute("aria-invalid", "true")
    assert stack.api("GET", f"/tasks/{task['id']}/runs").json()["runs"] == []

    page.get_by_test_id("run-param-target").fill("10.0.0.5")
    page.get_by_test_id("run-param-profile").select_option("full")
    page.get_by_test_id("run-with-run").click()
    expect(form).to_be_hidden()
    ui.expect_status(task["id"], "success")
    runs = stack.api("GET", f"/tasks/{task['id']}/runs").json()["runs"]
    assert [r["params"] for r in runs] == [{"target": "10.0.0.5", "ports": 443, "profile": "full"}]

    page.goto(f"{stack.base_url}/runs/{runs[0]['id']}")
    expect(page.get_by_test_id("run-param-target")).to_have_text("10.0.0.5")
    expect(page.get_by_test_id("run-param-ports")).to_have_text("443")
    expect(page.get_by_test_id("run-param-profile")).to_have_text("full")
    expect(page.get_by_test_id("log")).to_contain_text("scanning 10.0.0.5 on 443 (full)", timeout=LIVE_MS)

    page.get_by_test_id("run-again").click()  # one click: a new run, same values
    expect(page).not_to_have_url(re.compile(rf"/runs/{runs[0]['id']}$"), timeout=LIVE_MS)
    expect(page.get_by_test_id("run-param-target")).to_have_text("10.0.0.5")
    expect(page.get_by_test_id("log")).to_contain_text("scanning 10.0.0.5 on 443 (full)", timeout=LIVE_MS)
    runs = stack.api("GET", f"/tasks/{task['id']}/runs").json()["runs"]
    assert len(runs) == 2 and runs[0]["params"] == runs[1]["params"]
    assert page.url.endswith(f"/runs/{runs[0]['id']}")


def test_the_task_dialog_edits_params_and_env_and_names_a_bad_parameter(eventlet_stack, tabs, unique_name):
    stack = eventlet_stack
    task = stack.create_task(unique_name, "true")
    ui = SchedulerPage(tabs.open(), stack.base_url).open()
    dialog = open_edit_dialog(ui, task["id"])
    dialog.field("params").fill('[{"name": "ports", "type": "integer", "default": "many"}]')
    dialog.save()
    expect(dialog.error("params")).to_have_text("ports.default: must be a whole number")
    dialog.field("params").fill('[{"name": "ports", "type": "integer", "default": 22}]')
    dialog.field("env").fill('{"MODE": "fast"}')
    dialog.save()
    dialog.expect_closed()
    saved = stack.api("GET", f"/tasks/{task['id']}").json()
    assert saved["params"][0]["default"] == 22 and saved["env"] == {"MODE": "fast"}


def test_the_secrets_page_sets_a_secret_and_never_shows_its_value(eventlet_stack, tabs):
    stack = eventlet_stack
    page = tabs.open()
    page.goto(f"{stack.base_url}/secrets")
    if page.get_by_label("User name").count():
        sign_in(page, *ADMIN)
    page.get_by_test_id("secret-name").fill("bad name")
    page.get_by_test_id("secret-value").fill("whatever-value")
    page.get_by_test_id("secret-save").click()
    expect(page.get_by_test_id("secret-error-name")).to_contain_text("1 to 64")
    page.get_by_test_id("secret-name").fill("browser.pw")
    page.get_by_test_id("secret-value").fill("typed-in-the-browser-77")
    page.get_by_test_id("secret-save").click()
    row = page.locator('[data-testid="secret-row"][data-name="browser.pw"]')
    expect(row).to_be_visible()
    expect(page.get_by_test_id("secret-value")).to_have_value("")
    page.reload()
    expect(row).to_be_visible()
    assert "typed-in-the-browser-77" not in page.content()
    assert [s["name"] for s in stack.api("GET", "/secrets").json()["secrets"]] == ["browser.pw"]
    # Deleting asks first, in the page's own dialog (never the browser's confirm()).
    row.get_by_test_id("delete-secret").click()
    confirm = page.get_by_test_id("confirm-dialog")
    expect(confirm).to_be_visible()
    expect(page.get_by_test_id("confirm-title")).to_have_text("Delete secret browser.pw?")
    page.get_by_test_id("confirm-ok").click()
    expect(row).to_have_count(0)
    assert stack.api("GET", "/secrets").json()["secrets"] == []
