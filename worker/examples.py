"""Python jobs the example tasks call (the default allow-listed module)."""
from __future__ import annotations

import time

from .progress import report_progress


def count_primes(limit: int = 10000) -> str:
    """Count primes below ``limit``: a small CPU-bound job."""
    sieve = bytearray([1]) * max(limit, 2)
    sieve[0:2] = b"\x00\x00"
    for i in range(2, int(limit**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(range(i * i, limit, i)))
    return f"{sum(sieve)} primes below {limit}"


def sleep(seconds: float = 1.0) -> str:
    """Wait ``seconds``: a stand-in for slow I/O."""
    time.sleep(seconds)
    return f"slept {seconds} s"


def fail(message: str = "example failure") -> None:
    """Raise, to show a failed Python job."""
    raise RuntimeError(message)


def process_batch(items: int = 20, delay: float = 0.5) -> str:
    """Work through ``items`` items, ``delay`` seconds each, reporting progress: the
    progress bar of the example task (about ten seconds with the defaults)."""
    for done in range(1, items + 1):
        time.sleep(delay)
        report_progress(100 * done / items, f"item {done} of {items}")
    return f"processed {items} items"
