"""What the operator-comfort tests share (tests/browser/test_accessibility.py,
test_small_screens.py, test_first_run.py): a stack filled so that every page shows
what it can (runs that succeeded, failed, were stopped and are running, with output on
stdout and stderr; a paused scheduler; a channel with a pending delivery; a secret; the
audit log), every page of the app by name, a signed-in browser state to open them
with, and axe-core (from npm) run inside a page."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.scheduler_page import run_via_api, sign_in
from tests.support.processes import ADMIN, ROOT, wait_until

AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# Kept after the run, git-ignored (.gitignore): screenshots a person may look at.
ARTIFACTS = ROOT / "test-artifacts"
LIVE_MS = 15_000
RUN_MS = 30_000
# Five minutes with a progress line every second: still running while the pages are
# checked, and stopped by the tests (or at the end of the module).
RUNNING_COMMAND = ('i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo "::progress $((i/3)) chunk $i of 300"; '
                   'echo "copying chunk $i"; sleep 1; done')
OUTPUT_COMMAND = ('echo "backup started"; i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo "copied file $i"; done; '
                  'echo "warning: 2 files changed while reading" >&2; echo "backup done"')


@dataclass
class Filled:
    """The ids of what :func:`fill` made."""

    task: int = 0            # succeeded, failed and was stopped: the history page's chart has all three
    failing_task: int = 0
    running_task: int = 0
    params_task: int = 0
    success_run: int = 0
    failed_run: int = 0
    running_run: int = 0
    channel: str = ""
    extra: dict = field(default_factory=dict)


def wait_status(stack, run_id: int, *statuses: str, timeout: float = RUN_MS / 1000) -> dict:
    return wait_until(lambda: (run := stack.api("GET", f"/runs/{run_id}").json())["status"] in statuses and run,
                      timeout, what=f"run {run_id} to be {' or '.join(statuses)}")


def fill(stack, prefix: str) -> Filled:
    """Tasks, runs and settings enough for every page to show its parts."""
    made = Filled()
    stack.api("POST", "/channels", json={"name": f"{prefix}-ops", "url": "json://127.0.0.1:9/hook"})
    made.channel = f"{prefix}-ops"
    task = stack.create_task(f"{prefix} nightly backup", OUTPUT_COMMAND, description="Copies files; warns on stderr",
                             schedule={"type": "cron", "expr": "30 2 * * *"})
    made.task = task["id"]
    made.success_run = run_via_api(stack, task["id"])["run_id"]
    wait_status(stack, made.success_run, "success")
    # The same task fails once (a failed point and row) and is stopped once (a stopped one).
    stack.api("PATCH", f"/tasks/{task['id']}", json={"config": {"command": "echo 'disk full' >&2; exit 3"}})
    failed = run_via_api(stack, task["id"])["run_id"]
    wait_status(stack, failed, "failed")
    stack.api("PATCH", f"/tasks/{task['id']}", json={"config": {"command": "sleep 30"}})
    stopped = run_via_api(stack, task["id"])["run_id"]
    wait_status(stack, stopped, "running")
    stack.api("POST", f"/runs/{stopped}/stop")
    wait_status(stack, stopped, "stopped")
    stack.api("PATCH", f"/tasks/{task['id']}", json={"config": {"command": OUTPUT_COMMAND}})
    made.extra["stopped_run"] = stopped

    failing = stack.create_task(f"{prefix} certificate check", "echo 'checking example.org'; exit 2",
                                notify={"channels": [made.channel], "on": ["failure"], "after_failures": 1},
                                schedule={"type": "interval", "seconds": 3600})
    made.failing_task = failing["id"]
    made.failed_run = run_via_api(stack, failing["id"])["run_id"]
    wait_status(stack, made.failed_run, "failed")
    stack.create_task(f"{prefix} disabled cleanup", "true", enabled=False)
    stack.create_task(f"{prefix} never run report", "true")
    made.params_task = stack.create_task(f"{prefix} deploy", "echo deploying $TARGET",
                                         params=[{"name": "target", "type": "string", "required": True}])["id"]
    stack.api("PUT", "/secrets/db-password", json={"value": "s3cret-value"})
    channel_id = next(c["id"] for c in stack.api("GET", "/channels").json()["channels"] if c["name"] == made.channel)
    stack.api("POST", f"/channels/{channel_id}/test")  # a pending delivery (no alerts worker)
    stack.api("POST", "/scheduler/pause")  # the banner and the Resume button

    running = stack.create_task(f"{prefix} mirror sync", RUNNING_COMMAND, timeout=600)
    made.running_task = running["id"]
    made.running_run = run_via_api(stack, running["id"])["run_id"]
    wait_until(lambda: (stack.api("GET", f"/runs/{made.running_run}").json().get("progress") or 0) > 0, 20,
               what="the running run to report progress")
    return made


def finish(stack, made: Filled) -> None:
    """Stop what :func:`fill` left running and let the scheduler go on."""
    stack.api("POST", f"/runs/{made.running_run}/stop")
    stack.api("POST", "/scheduler/resume")


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: its name, address, and what says it has loaded."""

    name: str
    path: str
    ready: str | None = None      # a data-testid that must be visible
    live: bool = False            # wait for the connection pill to say "live"
    signed_in: bool = True


def every_page(made: Filled) -> list[PageSpec]:
    """Every page of webapp/web/pages.py, openapi_docs.py and auth_pages.py, with the
    states worth seeing (a finished, a failed and a running run)."""
    return [
        PageSpec("sign-in", "/login", signed_in=False),
        PageSpec("scheduler", "/scheduler", "task-row", live=True),
        PageSpec("run (finished, with output)", f"/runs/{made.success_run}", "log-line", live=True),
        PageSpec("run (failed)", f"/runs/{made.failed_run}", "run-error", live=True),
        PageSpec("run (running, with progress)", f"/runs/{made.running_run}", "log-line", live=True),
        PageSpec("history", f"/tasks/{made.task}/history", "run-row", live=True),
        PageSpec("audit", "/audit", "audit-row", live=True),
        PageSpec("alerts", "/alerts", "delivery-row", live=True),
        PageSpec("secrets", "/secrets", "secret-row"),
        PageSpec("docs/api", "/docs/api", "api-base"),
    ]


def signed_in_state(browser, base_url: str, credentials: tuple[str, str] = ADMIN) -> dict:
    """Cookies of a signed-in session, for new contexts (``storage_state=``): each
    check opens a fresh context without signing in again."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{base_url}/login")
        sign_in(page, *credentials)
        expect(page).to_have_url(f"{base_url}/scheduler")
        return context.storage_state()
    finally:
        context.close()


def open_page(page: Page, base_url: str, spec: PageSpec) -> None:
    """Load ``spec``'s page and wait until it shows what it should."""
    page.goto(f"{base_url}{spec.path}")
    wait_ready(page, spec)


def wait_ready(page: Page, spec: PageSpec) -> None:
    """Wait until a loaded page shows what ``spec`` says it should."""
    if spec.ready:
        expect(page.get_by_test_id(spec.ready).first).to_be_visible(timeout=LIVE_MS)
    if spec.live:
        expect(page.get_by_test_id("connection")).to_have_text("live", timeout=LIVE_MS)
    if spec.signed_in:
        # common.js has run: the header's tools are shown by it.
        expect(page.get_by_test_id("theme-toggle")).to_be_visible()


@dataclass
class Opened:
    """A page :func:`open_all` opened, with the uncaught errors it has thrown and the
    Content-Security-Policy refusals its console reported."""

    spec: PageSpec
    page: Page
    errors: list[str]
    csp: list[str]


def open_all(browser, base_url: str, specs: list[PageSpec], state: dict, **context_options) -> list[Opened]:
    """Open every page at once, each in its own context (signed in unless it is the
    sign-in page), and wait until all are ready: their sockets connect meanwhile. The
    caller closes each ``page.context``."""
    opened = []
    for spec in specs:
        context = browser.new_context(storage_state=state if spec.signed_in else None, **context_options)
        context.set_default_timeout(LIVE_MS)
        page = context.new_page()
        errors: list[str] = []
        csp: list[str] = []
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        page.on("console", lambda msg, csp=csp: csp.append(msg.text) if "Content Security Policy" in msg.text else None)
        page.goto(f"{base_url}{spec.path}", wait_until="commit")  # the pages load side by side
        opened.append(Opened(spec, page, errors, csp))
    for item in opened:
        item.page.wait_for_load_state("load")
        wait_ready(item.page, item.spec)
    return opened


WIDER_THAN_VIEWPORT_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const node of document.querySelectorAll('body *')) {
    const box = node.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 0.5 && getComputedStyle(node).position !== 'fixed') {
      wide.push(`${node.tagName.toLowerCase()}${node.id ? '#' + node.id : ''}.${[...node.classList].join('.')} `
                + `right=${Math.round(box.right)}`);
    }
  }
  return { scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 12) };
}
"""


def sideways(page: Page) -> dict:
    """The page's scroll width and the first elements sticking out to the right."""
    return page.evaluate(WIDER_THAN_VIEWPORT_JS)


# --- axe-core -----------------------------------------------------------------------------

_AXE_RUN = """
async (include) => {
  const result = await axe.run(include ? { include: [include] } : document, {
    resultTypes: ['violations'],
  });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html.slice(0, 200),
                                 summary: n.failureSummary })),
  }));
}
"""


def axe_violations(page: Page, include: str | None = None) -> list[dict]:
    """axe-core's violations on the page as it is now (or within ``include``, a CSS
    selector). axe is evaluated in the page through the DevTools protocol, which the
    page's CSP does not restrict (a <script> tag it adds would be refused: no inline
    script)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_JS.read_text())
    return page.evaluate(_AXE_RUN, include)


def serious(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def describe(violations: list[dict]) -> str:
    """Violations as a person reads them: rule, impact, and each element with why."""
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"]:
            lines.append(f"    {node['target']}: {node['html']}")
            lines.append("        " + (node["summary"] or "").replace("\n", "\n        "))
    return "\n".join(lines)


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
