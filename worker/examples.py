"""Python jobs the example tasks call (the default allow-listed module)."""
from __future__ import annotations

import time


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
