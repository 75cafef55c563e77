"""Roles and hostile input in a real Chromium against the real system (eventlet):
a viewer watches rows change live but is offered no controls (and the server refuses
the request the page would have sent), an operator runs, script in names, descriptions
and job output renders as text with no dialog, the audit page grows live for an admin,
and signing out ends access to the page."""
from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.scheduler_page import SchedulerPage, run_via_api, sign_in
from tests.support.processes import ADMIN

pytestmark = pytest.mark.browser

VIEWER = ("vera", "viewer-browser-password")
OPERATOR = ("otto", "operator-browser-password")
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
HOSTILE = f"{SCRIPT}{IMG}"
# Everything that would mean script ran or markup was injected, in one look at the page.
INJECTED = "#tasks img, #tasks script, #tasks iframe, #toasts img, #toasts script, #toasts iframe"
CONTROLS = ["run-now", "enabled-toggle", "edit-task", "delete-task", "new-task", "scheduler-toggle"]


@pytest.fixture(scope="module")
def stack(eventlet_stack):
    """The module's stack, with a viewer and an operator made by the CLI."""
    for (name, password), role in ((VIEWER, "viewer"), (OPERATOR, "operator")):
        eventlet_stack.flask("users", "create", name, "--role", role, "--password", password)
    return eventlet_stack


def short_name(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def offered(page, testid: str) -> int:
    return page.get_by_test_id(testid).count()


def csp_violations(tabs, page) -> list[str]:
    return [m for m in tabs.log(page).console if "Content Security Policy" in m]


def test_viewer_watches_live_but_is_offered_no_controls_and_cannot_run(stack, page, tabs):
    task = stack.create_task(short_name("viewed-"), "sleep 0.3")
    ui = SchedulerPage(page, stack.base_url).open(credentials=VIEWER)
    expect(page.get_by_test_id("whoami")).to_contain_text("viewer")
    expect(ui.row(task["id"])).to_be_visible()
    for control in CONTROLS:
        assert offered(page, control) == 0, f"a viewer is offered {control}"
    assert page.locator('nav a[href="/audit"]').count() == 0

    # An admin's run reaches the viewer's row live.
    run_via_api(stack, task["id"])
    ui.expect_status(task["id"], "success")
    expect(ui.toast_with(task["name"], "succeeded")).to_be_visible()

    # A task created after the page loaded shows up live, still without controls.
    later = stack.create_task(short_name("later-"), "true")
    run_via_api(stack, later["id"])
    ui.expect_status(later["id"], "success")
    for control in CONTROLS:
        assert offered(page, control) == 0, f"a viewer is offered {control} on a live row"

    # The request a Run Now button would send, made from the viewer's own page: refused.
    answer = page.evaluate("""async (taskId) => {
        const token = document.querySelector('meta[name="csrf-token"]').content;
        const response = await fetch(`/api/tasks/${taskId}/run`, {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRFToken': token}, body: '{}'});
        return {status: response.status, body: await response.json()};
    }""", task["id"])
    assert answer["status"] == 403 and answer["body"]["error"]["code"] == "forbidden"
    runs = stack.api("GET", f"/tasks/{task['id']}/runs").json()["runs"]
    assert len(runs) == 1
    assert page.goto(f"{stack.base_url}/audit").status == 403
    assert not tabs.log(page).errors


def test_operator_runs_from_the_page_but_is_offered_no_edits(stack, page, tabs):
    task = stack.create_task(short_name("operated-"), "echo operated")
    ui = SchedulerPage(page, stack.base_url).open(credentials=OPERATOR)
    expect(ui.run_now_button(task["id"])).to_be_enabled()
    for control in ("edit-task", "delete-task", "new-task"):
        assert offered(page, control) == 0, f"an operator is offered {control}"
    ui.run_now_button(task["id"]).click()
    ui.expect_status(task["id"], "success")
    expect(ui.toast_with(task["name"], "succeeded")).to_be_visible()
    runs = stack.api("GET", f"/tasks/{task['id']}/runs").json()["runs"]
    assert [r["status"] for r in runs] == ["success"]
    entries = stack.api("GET", "/audit").json()["entries"]
    assert any(e["action"] == "run" and e["username"] == OPERATOR[0] and e["target_id"] == task["id"]
               for e in entries)
    assert not tabs.log(page).errors


def test_script_in_name_description_and_output_renders_as_text(stack, page, tabs):
    name = f"{HOSTILE} {short_name()}"
    task = stack.create_task(name, f"printf '%s\\n' '{HOSTILE}' >&2; exit 1", description=HOSTILE)
    ui = SchedulerPage(page, stack.base_url).open()
    cell = ui.row(task["id"]).locator("td.col-name")
    expect(cell).to_contain_text(name)
    expect(cell).to_have_attribute("title", HOSTILE)  # the description, as attribute text

    ui.run_now_button(task["id"]).click()
    ui.expect_status(task["id"], "failed")
    toast = ui.toast_with(SCRIPT, IMG)
    expect(toast.first).to_be_visible()
    assert HOSTILE in toast.first.inner_text()

    # A hostile task that arrives live (created and run after the page loaded).
    live_name = f"{IMG}{SCRIPT} {short_name()}"
    live = stack.create_task(live_name, f"echo '{HOSTILE}'; exit 3", description=HOSTILE)
    run_via_api(stack, live["id"])
    ui.expect_status(live["id"], "failed")
    expect(ui.row(live["id"]).locator("td.col-name")).to_have_text(live_name)
    expect(ui.toast_with(live_name).first).to_be_visible()

    page.wait_for_timeout(500)  # time for any injected handler to have fired
    assert page.locator(INJECTED).count() == 0
    assert tabs.log(page).dialogs == []
    assert csp_violations(tabs, page) == []
    assert not tabs.log(page).errors


def test_audit_page_grows_live_and_keeps_script_as_text(stack, page, tabs):
    page.goto(f"{stack.base_url}/audit")
    if "/login" in page.url:
        sign_in(page, *ADMIN)
    expect(page).to_have_url(f"{stack.base_url}/audit")
    expect(page.get_by_test_id("connection")).to_have_text("live", timeout=15_000)
    rows = page.get_by_test_id("audit-row")
    before = rows.count()

    name = f"{HOSTILE} audited {short_name()}"
    stack.create_task(name, "true", description=HOSTILE)
    expect(rows).to_have_count(before + 1, timeout=10_000)
    newest = rows.first
    expect(newest).to_contain_text("admin")
    expect(newest).to_contain_text("create")
    expect(newest).to_contain_text(name)
    assert page.locator("#audit img, #audit script").count() == 0
    assert tabs.log(page).dialogs == []
    assert not tabs.log(page).errors


def test_signing_out_returns_to_login_and_the_page_stays_closed(stack, page, tabs):
    ui = SchedulerPage(page, stack.base_url).open(credentials=OPERATOR)
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(f"{stack.base_url}/login")
    page.goto(f"{stack.base_url}/scheduler")
    expect(page).to_have_url(f"{stack.base_url}/login?next=/scheduler")
    expect(page.get_by_label("User name")).to_be_visible()
    assert page.get_by_test_id("task-row").count() == 0
    # The page's own API calls are refused too.
    status = page.evaluate("async () => (await fetch('/api/tasks')).status")
    assert status == 401
    assert ui.page is page and not tabs.log(page).errors


def test_wrong_password_shows_an_error_and_no_page(stack, page, tabs):
    page.goto(f"{stack.base_url}/scheduler")
    sign_in(page, VIEWER[0], "not the password")
    expect(page.get_by_test_id("login-error")).to_have_text("Wrong user name or password.")
    page.goto(f"{stack.base_url}/scheduler")
    expect(page).to_have_url(f"{stack.base_url}/login?next=/scheduler")
    assert tabs.log(page).dialogs == []
