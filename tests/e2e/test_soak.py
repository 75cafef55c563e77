"""The soak in two minutes (bench/soak.py): the whole system on a private PostgreSQL
cluster (two web processes behind nginx, two forking workers, two schedulers, its own
redis-server), 200 pages following the replay rule, runs of every shape, and all five
faults one after another about every 18 s: Redis restarted, a web process SIGKILLed and
restarted, a worker SIGKILLed with its work horse, the leading scheduler SIGKILLed,
PostgreSQL restarted.

No page may miss, double or reorder an event of the window, no run may be left
unfinished a minute after the end, and Redis may hold no key without a TTL beyond the
documented bounded ones (tests/support/redis_keys.py), nor more of them than at warm-up.

It starts its own PostgreSQL whatever the suite's database, so it runs in the first
(SQLite) pass of ``make test`` only: the ``own_cluster`` marker deselects it in the
PostgreSQL pass (tests/conftest.py)."""
from __future__ import annotations

import json

import pytest

from bench.soak import run_soak
from bench.soak_system import FAULTS
from tests.conftest import strict
from tests.support.own_thread import run_in_own_thread
from tests.support.postgres_cluster import PostgresMissing, bindir

pytestmark = pytest.mark.own_cluster


@pytest.fixture(scope="module")
def figures():
    try:
        bindir()
    except PostgresMissing as exc:  # under make test and CI a missing tool fails
        if strict():
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    # In its own thread: the browser tests before it leave Playwright's loop in this one.
    return run_in_own_thread(lambda: run_soak(minutes=2, fault_every=18, clients=200, warmup=30))


@pytest.mark.timeout(600)
def test_two_minute_soak_with_every_fault_loses_nothing(figures):
    summary = {k: figures[k] for k in ("runs", "runs_per_s", "events_in_window", "lost", "doubled",
                                       "out_of_order", "raw", "emit_to_page_ms", "faults")}
    print("\nsoak:", json.dumps(summary, indent=1))
    assert figures["fault_kinds"] == sorted(FAULTS), figures["faults"]
    # Real work went through it: runs of each kind, events to every page.
    assert figures["runs"] >= 60, figures["database"]
    assert all(kind["runs"] for kind in figures["database"]["by_kind"].values()), figures["database"]["by_kind"]
    assert figures["events_in_window"] >= 200
    assert figures["pages_connected_at_end"] == figures["clients"] == 200
    # Every page holds every event of the window, each applied once, in order.
    assert figures["pages_behind_at_end"] == 0, figures["worst_page"]
    assert (figures["lost"], figures["doubled"], figures["out_of_order"]) == (0, 0, 0), figures["worst_page"]
    # Nothing stuck a minute after the end.
    assert figures["stuck_runs"] == []
    # Redis: no key without a TTL beyond the documented bounded ones, none that grew.
    assert figures["redis"]["unbounded"] == [], figures["redis"]
    assert figures["redis"]["grown_without_ttl"] == {}, figures["redis"]
