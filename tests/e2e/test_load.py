"""A smaller run of bench/load.py's check: many clients while runs finish; every client
ends with every event, none twice."""
from __future__ import annotations

import asyncio

from bench.load import run_load


def test_100_clients_lose_and_double_nothing(eventlet_stack):
    figures = asyncio.run(run_load(eventlet_stack, clients=100, rate=10, seconds=10))
    print(figures)
    assert figures["runs"] >= 50
    assert figures["events_per_client"] == 3 * figures["runs"]
    assert figures["lost"] == 0
    assert figures["doubled"] == 0
