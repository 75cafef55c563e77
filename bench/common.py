"""Shared helpers for the benchmarks: start the real system, measure a process, stats."""
from __future__ import annotations

import base64
import json
import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.processes import ADMIN, RedisServer, Stack  # noqa: E402


def percentile(values: list[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary(values: list[float], digits: int = 2) -> dict[str, float]:
    """Count, p50, p99, mean and max of ``values``."""
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), digits),
        "p99": round(percentile(values, 99), digits),
        "mean": round(statistics.fmean(values), digits) if values else float("nan"),
        "max": round(max(values), digits) if values else float("nan"),
    }


def basic_header(credentials: tuple[str, str] = ADMIN) -> str:
    """An HTTP Basic ``Authorization`` value."""
    return "Basic " + base64.b64encode(":".join(credentials).encode()).decode()


# The machine's PostgreSQL (as `make test-postgres`); each run makes a database of its own.
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def load() -> dict[str, float]:
    """The machine's load average now (other engineers' tests share the two cores)."""
    one, five, fifteen = os.getloadavg()
    return {"load_1m": round(one, 2), "load_5m": round(five, 2), "load_15m": round(fifteen, 2)}


@contextmanager
def database(kind: str) -> Iterator[str | None]:
    """None for SQLite (the stack's own file), or the URL of a fresh PostgreSQL database
    beside :data:`POSTGRES_URL`, dropped afterwards."""
    if kind == "sqlite":
        yield None
        return
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES_URL)
    name = f"taskpulse_bench_{os.getpid()}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def running_system(workdir: Path, async_mode: str = "eventlet", workers: int = 1,
                   extra_env: dict[str, str] | None = None, database_url: str | None = None,
                   worker_class: str = "worker.runner.TaskpulseWorker") -> Iterator[Stack]:
    """A private redis-server, the Socket.IO server and ``workers`` forking rq workers."""
    redis_server = RedisServer(workdir).start()
    stack = Stack(redis_server, workdir, async_mode=async_mode, extra_env=extra_env,
                  database_url=database_url)
    try:
        stack.start(workers=workers, worker_class=worker_class)
        yield stack
    finally:
        stack.stop()
        redis_server.stop()


class ProcessMeter:
    """CPU seconds and resident memory of a process and its children."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)

    def _all(self) -> list[psutil.Process]:
        return [self.proc, *self.proc.children(recursive=True)]

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self._all():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def rss_bytes(self) -> int:
        total = 0
        for proc in self._all():
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total


@contextmanager
def cpu_window(meter: ProcessMeter) -> Iterator[dict]:
    """Measure the CPU share (percent of one core) used inside the ``with`` block."""
    result: dict = {}
    cpu0, t0 = meter.cpu_seconds(), time.monotonic()
    yield result
    elapsed = time.monotonic() - t0
    result["seconds"] = round(elapsed, 2)
    result["cpu_percent"] = round(100 * (meter.cpu_seconds() - cpu0) / elapsed, 2)


def emit_json(figures: dict, out: Path | None = None) -> None:
    """Print the figures; also write them to ``out`` when given (for the report)."""
    text = json.dumps(figures, indent=2)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
