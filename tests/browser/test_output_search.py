"""Search through run output in a real Chromium against the real system (eventlet
server, forking rq worker): type a word a run printed into the scheduler page's search
box, see the run listed with its line, open it, and find that line marked and scrolled
into view in the run's log; the history page's box searches that task's runs."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.scheduler_page import SchedulerPage, run_via_api
from tests.support.processes import wait_until

pytestmark = pytest.mark.browser

# 120 ordinary lines, the one a user looks for, 120 more: the log must scroll to it.
COMMAND = ('i=0; while [ $i -lt 120 ]; do i=$((i+1)); echo "sync chunk $i ok"; done; '
           'echo "upstream mirror: read TIMEOUT on chunk 121"; '
           'i=0; while [ $i -lt 120 ]; do i=$((i+1)); echo "verify chunk $i ok"; done')


def test_search_output_from_the_scheduler_page_and_open_the_marked_line(eventlet_stack, page, unique_name):
    stack = eventlet_stack
    task = stack.create_task(unique_name, COMMAND)
    run_id = run_via_api(stack, task["id"])["run_id"]
    wait_until(lambda: stack.api("GET", f"/runs/{run_id}").json()["status"] == "success", 30,
               what=f"run {run_id} to succeed")

    SchedulerPage(page, stack.base_url).open()
    page.get_by_label("Search output").fill("timeout")
    hit = page.get_by_test_id("output-search-hit").filter(has_text=unique_name)
    expect(hit).to_have_count(1)
    expect(hit.get_by_test_id("output-search-excerpt")).to_have_text("upstream mirror: read TIMEOUT on chunk 121")
    expect(hit.locator("mark")).to_have_text("TIMEOUT")
    expect(page.get_by_test_id("output-search-status")).to_contain_text("“timeout”")

    hit.get_by_test_id("output-search-link").click()
    expect(page).to_have_url(re.compile(rf"/runs/{run_id}\?q=timeout$"))
    marked = page.locator('[data-testid="log-line"][data-match="1"]')
    expect(marked).to_have_count(1)
    expect(marked).to_have_text("upstream mirror: read TIMEOUT on chunk 121")
    expect(marked.locator("mark")).to_have_text("TIMEOUT")
    expect(marked).to_be_in_viewport()
    # The first and last lines are far away: the log was scrolled to the match, not left
    # at its end (the page stops following).
    expect(page.get_by_test_id("log-line").last).not_to_be_in_viewport()
    expect(page.get_by_test_id("follow")).to_have_attribute("data-following", "0")

    # The history page's box searches within the task.
    page.goto(f"{stack.base_url}/tasks/{task['id']}/history")
    page.get_by_label(re.compile("Search output")).fill("chunk 121")
    page.get_by_label(re.compile("Search output")).press("Enter")
    hits = page.get_by_test_id("output-search-hit")
    expect(hits).to_have_count(1)
    expect(hits.first).to_have_attribute("data-run-id", str(run_id))
