"""Running a piece of a test in a thread of its own: Playwright's sync API (the browser
tests, earlier in the same session) keeps an event loop running in the main thread,
and ``asyncio.run`` refuses to start another there."""
from __future__ import annotations

import threading
from typing import Any, Callable


def run_in_own_thread(work: Callable[[], Any]) -> Any:
    """``work()`` in a new thread; its result, or its exception raised here."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="own-loop")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
