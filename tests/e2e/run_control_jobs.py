"""Python jobs for tests/e2e/test_run_control.py (allow-listed in that module's stack)."""
from __future__ import annotations

import time

from worker.progress import report_progress


def stepped(steps: int = 20, delay: float = 0.05) -> str:
    """Report progress at every step, far faster than the throttle lets through."""
    for i in range(1, steps + 1):
        time.sleep(delay)
        report_progress(100 * i / steps, f"step {i} of {steps}")
    return f"{steps} steps"


def slow(seconds: float = 30.0) -> str:
    """Sleep past any short timeout."""
    time.sleep(seconds)
    return "woke up"
