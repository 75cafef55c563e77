"""Accessibility, dark mode, small screens and the keyboard, in a real Chromium against
the real system (issue 19):

- axe-core (npm) finds no serious or critical violation on any page, nor in any open
  dialog, in the light and in the dark theme; every status shown has its word;
- at 390 px wide (a phone held upright) no page scrolls sideways and every dialog fits;
- the theme follows the system, the header's toggle overrides it, is remembered, and
  applies before the first paint;
- the keyboard shortcuts (`/`, `n`, `?`, Escape, `s` on a run page) do what the overlay
  says and keep quiet while typing; focus is visible.

Each page is loaded once (all at once, in their own contexts), checked in both themes
by switching the emulated prefers-color-scheme, then narrowed to 390 px: the sweep is
one module fixture, and each verdict its own test. The dialog test loads the scheduler
page afresh on an emulated phone. Screenshots of the scheduler page (dark; 390 px)
are kept in /test-artifacts/ (git-ignored)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Page, expect

from tests.browser.comfort_pages import (
    artifact,
    axe_violations,
    describe,
    every_page,
    fill,
    finish,
    open_all,
    open_page,
    serious,
    sideways,
    signed_in_state,
    wait_status,
)

pytestmark = [pytest.mark.browser, pytest.mark.pages_only]

THEMES = ("light", "dark")
# The page background (theme.css --bg) in each theme, as getComputedStyle reports it.
BACKGROUND = {"light": "rgb(245, 246, 248)", "dark": "rgb(14, 17, 23)"}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
STATUS_NODES = ".badge:visible, .pill:visible, .alert-badge:visible"
UNLABELLED_JS = "(nodes) => nodes.filter((n) => !n.textContent.trim()).map((n) => n.outerHTML)"


@pytest.fixture(scope="module")
def filled(eventlet_stack):
    made = fill(eventlet_stack, "a11y")
    yield made
    finish(eventlet_stack, made)


@pytest.fixture(scope="module")
def state(browser, eventlet_stack, filled):
    return signed_in_state(browser, eventlet_stack.base_url)


def page_background(page: Page) -> str:
    return page.evaluate("() => getComputedStyle(document.documentElement).backgroundColor")


def open_tab(tabs, state, theme: str = "light", **options) -> Page:
    """A tab whose system asks for ``theme`` (prefers-color-scheme), signed in with ``state``."""
    return tabs.open(color_scheme=theme, storage_state=state, **options)


def show_theme(page: Page, theme: str) -> None:
    """Make the page's system ask for ``theme`` and wait until the page shows it."""
    page.emulate_media(color_scheme=theme)
    page.wait_for_function("(bg) => getComputedStyle(document.documentElement).backgroundColor === bg",
                           arg=BACKGROUND[theme])


@dataclass
class Sweep:
    """What every page showed: axe's serious violations per theme, statuses without a
    word, how it fits at 390 px, and uncaught page errors or CSP refusals."""

    axe: dict[str, dict[str, list]] = field(default_factory=dict)         # page -> theme -> violations
    unlabelled: dict[str, list[str]] = field(default_factory=dict)
    narrow: dict[str, dict] = field(default_factory=dict)                 # page -> sideways()
    errors: dict[str, list[str]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def sweep(browser, eventlet_stack, filled, state) -> Sweep:
    base = eventlet_stack.base_url
    specs = every_page(filled)
    found = Sweep()
    for item in open_all(browser, base, specs, state, viewport={"width": 1280, "height": 800}, color_scheme="light"):
        name, page = item.spec.name, item.page
        found.axe[name] = {}
        for theme in THEMES:
            show_theme(page, theme)
            found.axe[name][theme] = serious(axe_violations(page))
            found.unlabelled[name] = found.unlabelled.get(name, []) + page.locator(STATUS_NODES).evaluate_all(UNLABELLED_JS)
        if name == "scheduler":
            page.screenshot(path=str(artifact("scheduler-dark.png")), full_page=True)
        # The same page on a phone-wide window (a fresh load at phone size, touch and
        # all, is the dialog test's): the layout follows the width, the chart its box.
        page.set_viewport_size(PHONE["viewport"])
        try:
            page.wait_for_function("() => document.documentElement.scrollWidth <= 390", timeout=3000)
        except Exception:  # noqa: BLE001  (recorded below, reported by the test)
            pass
        found.narrow[name] = sideways(page)
        if name == "scheduler":
            page.screenshot(path=str(artifact("scheduler-390px-dark.png")), full_page=True)
            show_theme(page, "light")
            page.screenshot(path=str(artifact("scheduler-390px.png")), full_page=True)
        found.errors[name] = item.errors + item.csp
        page.context.close()
    return found


@pytest.mark.parametrize("theme", THEMES)
def test_no_page_has_a_serious_or_critical_axe_violation(sweep, filled, theme):
    assert set(sweep.axe) == {spec.name for spec in every_page(filled)}
    report = [f"===== {name}, {theme} theme =====\n{describe(v[theme])}" for name, v in sweep.axe.items() if v[theme]]
    print("\n\n".join(report))
    assert not report, "\n\n".join(report)


def test_no_status_is_shown_by_colour_alone(sweep):
    """Every badge and pill shown has its word (failed, running, live, failing...)."""
    assert {name: nodes for name, nodes in sweep.unlabelled.items() if nodes} == {}


def test_no_page_scrolls_sideways_at_390_px(sweep, filled):
    assert set(sweep.narrow) == {spec.name for spec in every_page(filled)}
    wide = {name: fit for name, fit in sweep.narrow.items() if fit["scrollWidth"] > 390}
    assert not wide, "\n".join(f"{name}: {fit['scrollWidth']} px wide; sticking out: {fit['wide']}"
                                for name, fit in wide.items())


def test_no_page_threw_an_error_or_broke_its_csp_while_swept(sweep):
    assert {name: errors for name, errors in sweep.errors.items() if errors} == {}


def test_no_dialog_has_a_serious_violation_and_each_fits_a_phone(eventlet_stack, filled, tabs, state):
    base = eventlet_stack.base_url
    specs = {spec.name: spec for spec in every_page(filled)}
    found = []
    for size in ({"viewport": {"width": 1280, "height": 800}}, PHONE):
        page = tabs.open(storage_state=state, color_scheme="light", **size)
        open_page(page, base, specs["scheduler"])
        narrow = size is PHONE

        def check(name: str, dialog_testid: str) -> None:
            dialog = page.get_by_test_id(dialog_testid)
            expect(dialog).to_be_visible()
            if narrow:
                box = dialog.bounding_box()
                fit = sideways(page)
                if box["x"] < 0 or box["x"] + box["width"] > 390 or fit["scrollWidth"] > 390:
                    found.append(f"{name} does not fit 390 px: {box}, {fit}")
            else:
                for theme in THEMES:
                    show_theme(page, theme)
                    bad = serious(axe_violations(page))
                    if bad:
                        found.append(f"===== {name}, {theme} theme =====\n{describe(bad)}")
                show_theme(page, "light")
            page.keyboard.press("Escape")
            expect(dialog).to_be_hidden()

        page.get_by_test_id("new-task").click()
        page.get_by_test_id("field-schedule-type").select_option("cron")
        page.get_by_test_id("field-cron").fill("*/5 * * * *")
        expect(page.get_by_test_id("preview-fire").first).to_be_visible()
        check("the new-task dialog", "task-dialog")
        page.get_by_test_id("shortcuts-open").click()
        check("the shortcuts overlay", "shortcuts-dialog")
        page.locator(f'tr[data-task-id="{filled.failing_task}"]').get_by_test_id("delete-task").click()
        check("the delete confirmation", "confirm-dialog")
        page.locator(f'tr[data-task-id="{filled.params_task}"]').get_by_test_id("run-now").click()
        check("the Run with... form", "run-with-dialog")
    assert not found, "\n\n".join(found)


def test_the_theme_toggle_is_remembered_and_applied_before_the_first_paint(eventlet_stack, filled, tabs, state):
    base = eventlet_stack.base_url
    page = open_tab(tabs, state, "light")
    page.goto(f"{base}/scheduler")
    toggle = page.get_by_test_id("theme-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    assert page_background(page) == BACKGROUND["light"]

    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert page_background(page) == BACKGROUND["dark"]
    assert page.evaluate("() => localStorage.getItem('taskpulse-theme')") == "dark"

    # Another page, with every module held back: the dark theme is there before any
    # module runs (a classic script in <head> sets it, before the first paint).
    held = []
    page.route(re.compile(r"/static/js/(pages|ui|live)/"), lambda route: held.append(route))
    page.goto(f"{base}/docs/api", wait_until="commit")
    # Parsed to the end (module scripts never block the parser), so every module has
    # been asked for, none has run; and the stylesheets are in, as at the first paint
    # (they hold the paint back, not the parser).
    page.wait_for_function("() => document.readyState !== 'loading' && "
                           "[...document.querySelectorAll('link[rel=stylesheet]')].every((link) => link.sheet)")
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    assert page_background(page) == BACKGROUND["dark"]
    # The route handler runs when Playwright hands it the request: wait for that while
    # the page is still held (a plain sleep would not let it run).
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the page's modules were not held back"
    page.unroute(re.compile(r"/static/js/(pages|ui|live)/"))  # the held requests go on
    page.goto(f"{base}/docs/api")
    expect(page.get_by_test_id("theme-toggle")).to_have_attribute("aria-pressed", "true")

    # Back to light, which is what the system uses: the choice is forgotten and the
    # page follows the system again.
    page.get_by_test_id("theme-toggle").click()
    expect(page.get_by_test_id("theme-toggle")).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("() => localStorage.getItem('taskpulse-theme')") is None
    page.emulate_media(color_scheme="dark")
    assert page_background(page) == BACKGROUND["dark"]
    expect(page.get_by_test_id("theme-toggle")).to_have_attribute("aria-pressed", "true")

    # A system in dark: picking light is remembered, also on the sign-in page.
    dark = open_tab(tabs, None, "dark")
    dark.goto(f"{base}/login")
    expect(dark.get_by_test_id("theme-toggle")).to_have_attribute("aria-pressed", "true")
    dark.get_by_test_id("theme-toggle").click()
    assert page_background(dark) == BACKGROUND["light"]
    dark.reload()
    assert page_background(dark) == BACKGROUND["light"]
    expect(dark.get_by_test_id("theme-toggle")).to_have_attribute("aria-pressed", "false")


def focused(page: Page) -> str:
    return page.evaluate("() => document.activeElement?.id || document.activeElement?.tagName")


def test_keyboard_shortcuts_on_the_scheduler_page(eventlet_stack, filled, tabs, state):
    page = open_tab(tabs, state)
    specs = {spec.name: spec for spec in every_page(filled)}
    open_page(page, eventlet_stack.base_url, specs["scheduler"])

    # `/` focuses the output search box, and the slash is not typed into it.
    page.keyboard.press("/")
    assert focused(page) == "output-search-q"
    expect(page.get_by_test_id("output-search-input")).to_have_value("")
    # Typing there types: `n`, `s`, `?` and `/` are letters now, not shortcuts.
    page.keyboard.type("n/s?")
    expect(page.get_by_test_id("output-search-input")).to_have_value("n/s?")
    expect(page.get_by_test_id("task-dialog")).to_be_hidden()
    expect(page.get_by_test_id("shortcuts-dialog")).to_be_hidden()
    page.get_by_test_id("filter-search").focus()
    page.keyboard.press("n")
    expect(page.get_by_test_id("task-dialog")).to_be_hidden()
    page.get_by_test_id("filter-search").fill("")

    # Away from the fields: `n` opens the new-task dialog, Escape closes it.
    page.get_by_role("heading", name="Scheduler").click()
    page.keyboard.press("n")
    dialog = page.get_by_test_id("task-dialog")
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("task-dialog-title")).to_have_text("New task")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # With a modifier nothing fires (Alt+N, Ctrl+/ are the browser's).
    page.keyboard.press("Alt+n")
    page.keyboard.press("Control+/")
    expect(dialog).to_be_hidden()
    assert focused(page) != "output-search-q"

    # `?` lists what this page offers (no `s` here), Escape closes it.
    page.keyboard.press("?")
    overlay = page.get_by_test_id("shortcuts-dialog")
    expect(overlay).to_be_visible()
    for action in ("search", "new-task", "help"):
        expect(overlay.locator(f'[data-shortcut-action="{action}"]')).to_be_visible()
    expect(overlay.locator('[data-shortcut-action="stop-run"]')).to_be_hidden()
    # Shortcuts stay quiet while a dialog is open.
    page.keyboard.press("n")
    expect(dialog).to_be_hidden()
    page.keyboard.press("Escape")
    expect(overlay).to_be_hidden()

    # Focus is visible: Tab onto a control draws an outline.
    page.get_by_role("heading", name="Scheduler").click()
    page.keyboard.press("Tab")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), f"{focused(page)} shows no focus outline"


def test_s_on_a_run_page_asks_first_then_stops_the_run(eventlet_stack, filled, tabs, state):
    stack = eventlet_stack
    run_id = filled.running_run
    page = open_tab(tabs, state)
    page.goto(f"{stack.base_url}/runs/{run_id}")
    expect(page.get_by_test_id("connection")).to_have_text("live")
    expect(page.get_by_test_id("run-status")).to_have_text("running")

    page.keyboard.press("s")
    confirm = page.get_by_test_id("confirm-dialog")
    expect(confirm).to_be_visible()
    expect(page.get_by_test_id("confirm-title")).to_have_text(f"Stop run #{run_id}?")
    expect(page.get_by_test_id("confirm-ok")).to_have_text("Stop run")
    page.keyboard.press("Escape")  # changed my mind
    expect(confirm).to_be_hidden()
    assert stack.api("GET", f"/runs/{run_id}").json()["status"] == "running"

    page.keyboard.press("?")
    expect(page.get_by_test_id("shortcuts-dialog").locator('[data-shortcut-action="stop-run"]')).to_be_visible()
    page.keyboard.press("Escape")

    page.keyboard.press("s")
    page.get_by_test_id("confirm-ok").click()
    expect(confirm).to_be_hidden()
    expect(page.get_by_test_id("run-status")).to_have_text("stopped", timeout=15_000)
    wait_status(stack, run_id, "stopped")
    # Once it has ended there is nothing to stop: `s` does nothing.
    page.keyboard.press("s")
    expect(confirm).to_be_hidden()
    assert not tabs.log(page).dialogs, "the page used a browser dialog (window.confirm)"
