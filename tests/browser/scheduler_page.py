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


# --- Task editing (tests/browser/test_task_editing.py) --------------------------------


class TaskDialog:
    """The create/edit task dialog, through its data-testid hooks: ``field-<name>``
    inputs and ``error-<API field>`` messages (e.g. ``error-schedule.expr``)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.root = page.get_by_test_id("task-dialog")

    def field(self, name: str) -> Locator:
        return self.root.get_by_test_id(f"field-{name}")

    def error(self, api_field: str) -> Locator:
        return self.root.get_by_test_id(f"error-{api_field}")

    @property
    def top_error(self) -> Locator:
        return self.root.get_by_test_id("dialog-error")

    @property
    def preview_fires(self) -> Locator:
        return self.root.get_by_test_id("preview-fire")

    @property
    def preview_error(self) -> Locator:
        return self.root.get_by_test_id("preview-error")

    def fill(self, name: str | None = None, command: str | None = None, schedule: str | None = None,
             cron: str | None = None, interval: int | None = None, once: str | None = None,
             timezone: str | None = None, description: str | None = None) -> TaskDialog:
        """Fill the given fields; ``schedule`` is manual / cron / interval / once."""
        if name is not None:
            self.field("name").fill(name)
        if description is not None:
            self.field("description").fill(description)
        if command is not None:
            self.field("command").fill(command)
        if schedule is not None:
            self.field("schedule-type").select_option(schedule)
        if cron is not None:
            self.field("cron").fill(cron)
        if interval is not None:
            self.field("interval").fill(str(interval))
        if once is not None:
            self.field("once").fill(once)
        if timezone is not None:
            self.field("timezone").fill(timezone)
        return self

    def save(self) -> None:
        self.root.get_by_test_id("dialog-save").click()

    def expect_closed(self) -> None:
        expect(self.root).to_be_hidden()

    def preview_utc(self) -> list[str]:
        """The fire instants the preview shows (ISO-8601 UTC, from data-utc)."""
        return self.preview_fires.evaluate_all("(items) => items.map((li) => li.dataset.utc)")


def open_new_task_dialog(ui: SchedulerPage) -> TaskDialog:
    ui.page.get_by_test_id("new-task").click()
    dialog = TaskDialog(ui.page)
    expect(dialog.root).to_be_visible()
    return dialog


def open_edit_dialog(ui: SchedulerPage, task_id: int) -> TaskDialog:
    ui.row(task_id).get_by_test_id("edit-task").click()
    dialog = TaskDialog(ui.page)
    expect(dialog.root).to_be_visible()
    return dialog


def row_by_name(ui: SchedulerPage, name: str) -> Locator:
    """The task row whose name cell reads exactly ``name``."""
    return ui.page.locator('tr[data-testid="task-row"]').filter(
        has=ui.page.locator("td.col-name").get_by_text(name, exact=True)
    )


def task_names(stack) -> set[str]:
    """Every task name stored, read through the API."""
    response = stack.api("GET", "/tasks")
    assert response.status_code == 200, response.text
    return {task["name"] for task in response.json()["tasks"]}
