"""The scheduler page across a restart of the web process (eventlet, the default mode).

Its own module: ``eventlet_stack`` must not run beside the ``stack`` fixture's stacks,
which share the Redis queue and Socket.IO channel."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.scheduler_page import SchedulerPage
from tests.support.processes import wait_until

pytestmark = pytest.mark.browser


def last_status(stack, task_id: int) -> str | None:
    """The task's last status, read from the database through the CLI (the API is down)."""
    rows = json.loads(stack.flask("tasks", "list", "--json").stdout)
    return next(row["last_status"] for row in rows if row["id"] == task_id)


def test_reconnects_and_replays_after_server_restart(eventlet_stack, page, tabs, unique_name):
    stack = eventlet_stack
    task = stack.create_task(unique_name, "echo done while the page was away")
    ui = SchedulerPage(page, stack.base_url).open()
    ui.mark_document()
    seq_before = ui.last_seq()
    expect(ui.status(task["id"])).to_have_text("never run")

    stack.web.stop()
    ui.expect_connection("reconnecting", timeout=10_000)
    # The page says its rows may be stale, and since when.
    expect(page.get_by_test_id("last-sync")).to_have_text(
        re.compile(r"^live updates paused, last sync \d\d:\d\d:\d\d$"))

    # The API is down: enqueue straight from the CLI, as an operator could; the worker
    # runs it and stores its events while no server can push them.
    queued = stack.flask("tasks", "run", task["name"])
    assert "queued run" in queued.stdout, queued.stdout + queued.stderr
    wait_until(lambda: last_status(stack, task["id"]) == "success", 30, interval=0.2,
               what="the run to finish while the web server is down")
    expect(ui.status(task["id"])).to_have_text("never run")
    expect(ui.connection).to_have_text("reconnecting")

    stack.start_web()
    ui.expect_connection("live", timeout=30_000)
    expect(page.get_by_test_id("last-sync")).to_have_text(re.compile(r"^last sync \d\d:\d\d:\d\d$"))
    ui.expect_status(task["id"], "success", timeout=10_000)
    expect(ui.row(task["id"]).locator("td.col-duration")).not_to_have_text("—")
    assert ui.still_same_document(), "the page reloaded instead of replaying"
    seq_after = ui.last_seq()
    assert seq_before is not None and seq_after >= seq_before + 3, (seq_before, seq_after)
    assert not tabs.log(page).errors
