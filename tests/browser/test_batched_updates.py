"""The scheduler page subscribes with ``"batch": true``: its rows, panels and toasts are
kept live from ``task_updates`` batches exactly as they were from single
``task_update`` events (real Chromium, real server, forking rq worker)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.scheduler_page import SchedulerPage, run_via_api

pytestmark = pytest.mark.browser
# The fixed 100 ms window, so that back-to-back events share a batch: the adaptive one
# (the default) sends a room this small every event at once (webapp.live.fanout).
STACK_ENV = {"TASKPULSE_BATCH_ADAPTIVE": "0"}

# Every Socket.IO event the page's socket receives, by name, and the batches' contents.
RECORD_JS = """
() => {
  window.__arrived = [];
  window.__batches = [];
  window.taskpulse.socket.onAny((name, payload) => {
    window.__arrived.push(name);
    if (name === 'task_updates') {
      window.__batches.push(payload.events.map((ev) => [ev.seq, ev.run_id, ev.status]));
    }
  });
}
"""


def test_rows_and_toasts_follow_batched_events(stack, page, tabs, unique_name):
    tasks = [stack.create_task(f"{unique_name}-{i}", "true") for i in range(5)]
    ui = SchedulerPage(page, stack.base_url).open()
    page.evaluate(RECORD_JS)
    # "live" is the connection; wait for the subscribe ack too (the page in the batch
    # room), or the first events come in that ack's replay instead of live.
    page.wait_for_function("() => document.getElementById('last-sync').hasAttribute('datetime')")

    # Back-to-back Run Nows: their queued events land in one 100 ms window.
    runs = [run_via_api(stack, task["id"])["run_id"] for task in tasks]
    for task in tasks:
        ui.expect_status(task["id"], "success")
        # One toast per run: each event of a batch went through the page's code path once.
        expect(ui.toast_with(task["name"], "succeeded")).to_have_count(1)

    arrived = page.evaluate("() => window.__arrived")
    batches = page.evaluate("() => window.__batches")
    assert "task_update" not in arrived, "the page subscribed with batch: true"
    mine = [[e for e in batch if e[1] in runs] for batch in batches]
    statuses = {(run_id, status) for batch in mine for _, run_id, status in batch}
    assert statuses >= {(r, s) for r in runs for s in ("queued", "running", "success")}, (arrived, batches)
    assert max(len(batch) for batch in mine) >= 2, f"no batch held more than one event: {mine}"
    seqs = [seq for batch in batches for seq, _, _ in batch]
    # None twice, and each batch in seq order. Across batches, two processes (the web's
    # queued, a worker's running) may publish in another order than they committed:
    # the page notices the gap and replays (docs/protocol.md, "The replay rule").
    assert len(seqs) == len(set(seqs)), "none twice"
    assert all([e[0] for e in batch] == sorted(e[0] for e in batch) for batch in batches), "each batch in seq order"
    # The page applied everything: its last seq is the newest event's.
    assert ui.last_seq() == max(seqs)
    assert not tabs.log(page).errors
