"""The Alerts page and the task dialog's alert rules, in a real Chromium against the real
system with an alerts worker and a real HTTP receiver (Apprise's ``json://``): an admin
adds a channel on the page (its URL masked once saved), ticks "failure after 2" on a
task in the dialog, the task fails twice, and the delivery appears on the page and turns
``sent`` live while the row shows its "failing" badge; a viewer sees names and masked
URLs only."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.scheduler_page import SchedulerPage, open_edit_dialog, run_via_api, sign_in
from tests.support.processes import ADMIN, wait_until

pytestmark = pytest.mark.browser

LIVE_MS = 20_000


@pytest.fixture(scope="module")
def alerting_stack(eventlet_stack):
    """The eventlet stack plus the alerts worker of the Procfile."""
    eventlet_stack.start_worker(queues=("taskpulse-alerts",))
    return eventlet_stack


def open_alerts(page, base_url: str, credentials=ADMIN, live: bool = True) -> None:
    """Load /alerts (signing in on the way); wait until its delivery log is live."""
    page.goto(f"{base_url}/alerts")
    if "/login" in page.url:
        sign_in(page, *credentials)
    expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
    if live:
        expect(page.get_by_test_id("connection")).to_have_text("live", timeout=LIVE_MS)


def test_an_admin_adds_a_channel_sets_failure_after_two_and_sees_the_delivery_sent_live(
        alerting_stack, tabs, receiver, unique_name):
    stack = alerting_stack
    channel = f"hook-{unique_name}"[:80]
    secret_path = f"/hook/{unique_name}-T0KEN"
    alerts = tabs.open()
    open_alerts(alerts, stack.base_url)
    alerts.get_by_test_id("channel-name").fill(channel)
    alerts.get_by_test_id("channel-url").fill(f"json://127.0.0.1:{receiver.port}{secret_path}")
    alerts.get_by_test_id("channel-add").click()
    row = alerts.get_by_test_id("channel-row").filter(has_text=channel)
    expect(row).to_contain_text("json://127.0.0.1/***")
    expect(alerts.get_by_test_id("channel-url")).to_have_value("")  # the secret left the page
    assert "T0KEN" not in alerts.content()

    task = stack.create_task(unique_name, "exit 3")
    ui = SchedulerPage(tabs.open(), stack.base_url).open()
    dialog = open_edit_dialog(ui, task["id"])
    section = dialog.root.get_by_test_id("notify-section")
    section.get_by_label(channel).check()
    section.get_by_test_id("notify-on-failure").check()
    section.get_by_test_id("notify-on-recovery").check()
    section.get_by_test_id("field-notify-after-failures").fill("2")
    dialog.save()
    dialog.expect_closed()
    saved = stack.api("GET", f"/tasks/{task['id']}").json()["notify"]
    assert saved["channels"] == [channel] and saved["after_failures"] == 2
    assert saved["on"] == ["failure", "recovery"]

    run_via_api(stack, task["id"])
    ui.expect_status(task["id"], "failed")
    expect(ui.row(task["id"]).get_by_test_id("alert-badge")).to_be_hidden()  # one failure: no incident
    run_via_api(stack, task["id"])
    delivery = alerts.get_by_test_id("delivery-row").filter(has_text=f"{unique_name} failed (2 in a row)")
    expect(delivery.get_by_test_id("delivery-status")).to_have_text("sent", timeout=LIVE_MS)
    expect(delivery).to_contain_text(channel)
    wait_until(lambda: receiver.on(secret_path), 10, what="the receiver to get the failure")
    expect(ui.row(task["id"]).get_by_test_id("alert-badge")).to_have_text("failing", timeout=LIVE_MS)
    assert "T0KEN" not in alerts.content()


def test_a_refused_field_is_named_next_to_it(alerting_stack, page):
    open_alerts(page, alerting_stack.base_url)
    page.get_by_test_id("channel-name").fill("typo")
    page.get_by_test_id("channel-url").fill("nosuchscheme://example.com/x")
    page.get_by_test_id("channel-add").click()
    expect(page.get_by_test_id("error-url")).to_contain_text("Apprise cannot use this URL")
    expect(page.get_by_test_id("channel-row").filter(has_text="typo")).to_have_count(0)


def test_a_viewer_sees_channel_names_and_masked_urls_only(alerting_stack, page, unique_name):
    stack = alerting_stack
    stack.api("POST", "/channels", json={"name": f"v-{unique_name}"[:80],
                                         "url": "json://hooks.example.com/v1/S3CRET"})
    password = "viewer-password-0123456789"
    stack.flask("users", "create", f"viewer-{unique_name}"[:60], "--role", "viewer", "--password", password)
    open_alerts(page, stack.base_url, (f"viewer-{unique_name}"[:60], password), live=False)
    expect(page.get_by_test_id("channel-row").filter(has_text=f"v-{unique_name}"[:80])).to_contain_text(
        "json://hooks.example.com/***")
    expect(page.get_by_test_id("channel-form")).to_have_count(0)
    expect(page.get_by_test_id("channel-delete")).to_have_count(0)
    expect(page.get_by_test_id("delivery-row")).to_have_count(0)  # the outbox is for operators
    assert "S3CRET" not in page.content()
