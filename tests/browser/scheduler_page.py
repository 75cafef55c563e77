"""The scheduler page as a user sees it, through its data-testid hooks."""
from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.support.processes import ADMIN

LIVE_TIMEOUT_MS = 15_000


def sign_in(page: Page, username: str, password: str) -> None:
    """Fill in and send the sign-in form the page was redirected to."""
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
RUN_TIMEOUT_MS = 20_000


class SchedulerPage:
    """One tab showing /scheduler."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def open(self, credentials: tuple[str, str] = ADMIN) -> SchedulerPage:
        """Load the page (signing in on the way if asked) and wait until it is live."""
        self.page.goto(f"{self.base_url}/scheduler")
        if "/login" in self.page.url:
            sign_in(self.page, *credentials)
        expect(self.page).to_have_url(f"{self.base_url}/scheduler")
        self.expect_connection("live")
        return self

    @property
    def connection(self) -> Locator:
        return self.page.get_by_test_id("connection")

    def expect_connection(self, state: str, timeout: float = LIVE_TIMEOUT_MS) -> None:
        expect(self.connection).to_have_text(state, timeout=timeout)

    def row(self, task_id: int) -> Locator:
        return self.page.locator(f'tr[data-testid="task-row"][data-task-id="{task_id}"]')

    def status(self, task_id: int) -> Locator:
        return self.row(task_id).get_by_test_id("status")

    def expect_status(self, task_id: int, status: str, timeout: float = RUN_TIMEOUT_MS) -> None:
        expect(self.status(task_id)).to_have_text(status, timeout=timeout)

    def run_now_button(self, task_id: int) -> Locator:
        return self.row(task_id).get_by_test_id("run-now")

    @property
    def toasts(self) -> Locator:
        return self.page.locator('#toasts [data-testid="toast"]')

    def toast_with(self, *texts: str) -> Locator:
        """The toasts whose text contains every one of ``texts``."""
        found = self.toasts
        for text in texts:
            found = found.filter(has_text=text)
        return found

    def transport(self) -> str:
        return self.page.evaluate("() => window.taskpulse.socket.io.engine.transport.name")

    def last_seq(self) -> int | None:
        return self.page.evaluate("() => window.taskpulse.lastSeq")

    def mark_document(self) -> None:
        """Put a marker on window; it disappears if the page is ever reloaded."""
        self.page.evaluate("() => { window.__taskpulseTestMarker = true; }")

    def still_same_document(self) -> bool:
        return self.page.evaluate("() => window.__taskpulseTestMarker === true")


def run_via_api(stack, task_id: int) -> dict:
    """POST /api/tasks/<id>/run as a script would; returns the 202 body."""
    response = stack.api("POST", f"/tasks/{task_id}/run")
    assert response.status_code == 202, response.text
    return response.json()
