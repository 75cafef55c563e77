"""Browser fixtures: Debian's Chromium driven by Playwright (sync API).

``browser`` is one headless Chromium for the session; ``tabs`` opens pages, each in its
own browser context (own cookies and storage, like a separate window), and records
their console messages, page errors and dialogs; ``page`` is one such tab. When a test
fails, every tab it opened is screenshotted under the test's tmp dir and its console
is printed.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from tests.conftest import strict

CHROMIUM = os.environ.get("TASKPULSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item so fixtures can tell whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def require_chromium(path: str = CHROMIUM) -> None:
    """Skip the browser tests when Chromium is missing, except under CI and ``make test``
    (strict), where a missing Chromium fails them."""
    if not Path(path).exists():
        message = f"{path} is not installed (make system-deps installs Debian's chromium)"
        if strict():
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session."""
    require_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        )
        yield chromium
        chromium.close()


@dataclass
class TabLog:
    """What one tab said and did that a test may want to assert on or print."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


class Tabs:
    """Opens pages, each in a fresh context, and keeps their logs by page."""

    def __init__(self, browser) -> None:
        self.browser = browser
        self.opened: list[tuple[object, object, TabLog]] = []  # (context, page, log)

    def open(self, **context_options):
        """A new tab in its own context; ``context_options`` go to ``new_context``
        (e.g. ``viewport``, ``color_scheme``, ``storage_state``)."""
        context = self.browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **context_options})
        context.set_default_timeout(15_000)
        page = context.new_page()
        log = TabLog()
        page.on("console", lambda msg: log.console.append(f"[{msg.type}] {msg.text}"))
        page.on("pageerror", lambda exc: log.errors.append(str(exc)))

        def on_dialog(dialog) -> None:
            log.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        self.opened.append((context, page, log))
        return page

    def log(self, page) -> TabLog:
        return next(log for _, p, log in self.opened if p is page)

    def dump(self, directory: Path) -> None:
        """Screenshot every open tab into ``directory`` and print its console and errors."""
        for index, (_, page, log) in enumerate(self.opened):
            shot = directory / f"tab{index}-failure.png"
            try:
                page.screenshot(path=str(shot), full_page=True)
                print(f"screenshot of tab {index} ({page.url}): {shot}")
            except PlaywrightError as exc:  # the page may be gone; the logs still matter
                print(f"no screenshot of tab {index}: {exc}")
            print(f"----- tab {index} console -----")
            print("\n".join(log.console) or "(none)")
            print(f"----- tab {index} page errors -----")
            print("\n".join(log.errors) or "(none)")

    def close(self) -> None:
        for context, _, _ in self.opened:
            with contextlib.suppress(PlaywrightError):  # already closed with the browser
                context.close()


@pytest.fixture
def tabs(browser, request, tmp_path):
    """Open pages with ``tabs.open()``; all are closed after the test. Fails the test's
    teardown if any tab had an uncaught page error the test did not already fail on."""
    made = Tabs(browser)
    yield made
    report = getattr(request.node, "rep_call", None)
    failed = report is None or report.failed
    if failed:
        made.dump(tmp_path)
    errors = [e for _, _, log in made.opened for e in log.errors]
    made.close()
    if not failed:
        assert not errors, f"page errors: {errors}"


@pytest.fixture
def page(tabs):
    """One tab in a fresh browser context."""
    return tabs.open()
