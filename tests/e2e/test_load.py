"""A smaller run of bench/load.py's check: many clients while runs finish; every client
ends with every event, none twice."""
from __future__ import annotations

import asyncio
import threading

from bench.load import run_load


def _in_own_loop(coro_factory):
    """Run a coroutine on a fresh event loop in its own thread: Playwright's sync API
    (the browser tests) may already own this thread's loop."""
    result: dict = {}

    def target() -> None:
        result["value"] = asyncio.run(coro_factory())

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    return result["value"]


def test_100_clients_lose_and_double_nothing(eventlet_stack):
    figures = _in_own_loop(lambda: run_load(eventlet_stack, clients=100, rate=10, seconds=10))
    print(figures)
    assert figures["runs"] >= 20  # the driver kept going (its rate depends on the machine)
    assert figures["events_per_client"] == 3 * figures["runs"]
    assert figures["lost"] == 0
    assert figures["doubled"] == 0
