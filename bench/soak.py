"""Soak: the whole system on PostgreSQL for N minutes, with a fault every two minutes.

    .venv/bin/python -m bench.soak --minutes 30
    .venv/bin/python -m bench.soak --minutes 2 --fault-every 20    # what tests/e2e/test_soak.py runs

Two web processes behind nginx, two forking workers, two schedulers, a private
PostgreSQL cluster and redis-server (bench/soak_system.py); 200 pages connected through
nginx (bench/soak_clients.py: they follow the page's replay rule, spread over two client
processes and over source addresses, so nginx's ``ip_hash`` puts them on both web
processes); about 10 runs a second, scheduled and Run Now, short, long, failing, with
output and with progress. In turn, one fault every ``--fault-every`` seconds: Redis
restarted, a web process SIGKILLed and restarted, a worker SIGKILLed (with its work
horse) and restarted, the leading scheduler SIGKILLed and another started, PostgreSQL
restarted.

At the end (runs stopped, scheduled tasks disabled) it waits up to 60 s for every run
to end and reports: per page, the events of the soak window (the event log's rows,
room ``tasks``) it did not apply (lost), applied twice (doubled) or got live out of
order; runs not ended; every process's RSS at start, after warm-up and at the end (MB,
and growth per hour after warm-up); the database and event log size; emit -> page
p50/p99 (live events, the payload's ``emitted_at``); Redis keys without a TTL that are
not bounded (tests/support/redis_keys.py) and whether their number grew. It prints the
figures and writes them to ``bench/out/soak-<minutes>m.json`` (``--out``).
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import tempfile
import threading
import time
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from bench.common import ROOT, emit_json
from bench.load import RemoteGroup, histogram_summary, merge_histograms
from bench.soak_clients import SoakGroup
from bench.soak_system import FAULTS, SoakSystem
from tests.support.processes import ADMIN
from tests.support.redis_keys import key_shapes, keys_without_ttl, unbounded

OUT = ROOT / "bench" / "out"
SETTLE_SECONDS = 60  # runs not ended this long after the end are stuck
SOURCE_ADDRESSES = 16  # 127.0.<k>.1: nginx's ip_hash keys on the first three octets

# Run Now tasks: (name, command or python callable, copies, weight in the mix). A task
# runs once at a time (Run Now on a busy one is a 409), so copies bound its share.
MANUAL = [
    ("short", "true", 4, 3),
    ("output", 'for i in $(seq 1 40); do echo "line $i of the output"; done', 2, 2),
    ("progress", 'for p in 20 40 60 80; do echo "::progress $p step $p"; sleep 0.05; done', 2, 2),
    ("failing", 'echo "about to fail" >&2; exit 3', 2, 2),
    ("long", 'sleep 2; echo "done after 2 s"', 1, 1),
    ("python", {"callable": "worker.examples:count_primes", "kwargs": {"limit": 20000}}, 2, 1),
]
# Scheduled tasks: (name, command, interval in seconds).
SCHEDULED = [("tick", "true", 2), ("tick-output", "echo tick; echo tock >&2", 3),
             ("tick-failing", "exit 1", 5)]


def create_tasks(system: SoakSystem) -> tuple[list[dict], list[dict]]:
    """The manual tasks (each repeated by its weight in the returned mix) and the
    scheduled ones."""
    mix, scheduled = [], []
    for name, what, copies, weight in MANUAL:
        for copy in range(copies):
            fields = ({"kind": "python", "config": what} if isinstance(what, dict) else {})
            task = system.system.create_task(f"soak-{name}-{copy}", what if isinstance(what, str) else "true",
                                             timeout=60, **fields)
            mix += [task] * weight
    for name, command, seconds in SCHEDULED:
        scheduled.append(system.system.create_task(f"soak-{name}", command,
                                                   schedule={"type": "interval", "seconds": seconds}))
    return mix, scheduled


class RunDriver(threading.Thread):
    """Run Now through nginx at ``rate`` a second, over the mix; a busy task (409) is
    passed over for the next one, so the rate holds while workers keep up."""

    def __init__(self, url: str, mix: list[dict], rate: float) -> None:
        super().__init__(daemon=True, name="soak-runs")
        self.url, self.mix, self.rate = url, mix, rate
        self.stopping = threading.Event()
        self.answers: Counter = Counter()
        self.started_runs = 0

    def run(self) -> None:
        session = requests.Session()
        session.auth = ADMIN
        tasks = itertools.cycle(sorted(self.mix, key=lambda t: hash((t["id"], 7)) % 997))
        start, sent = time.monotonic(), 0
        while not self.stopping.is_set():
            delay = start + sent / self.rate - time.monotonic()
            if delay > 0:
                self.stopping.wait(delay)
            sent += 1
            for _ in range(2):  # a busy task: try the next one
                task = next(tasks)
                try:
                    code = session.post(f"{self.url}/api/tasks/{task['id']}/run", timeout=10).status_code
                except requests.RequestException as exc:
                    code = type(exc).__name__
                self.answers[code] += 1
                if code == 202:
                    self.started_runs += 1
                if code != 409:
                    break


class RssLog(threading.Thread):
    """Every process's RSS every ``every`` seconds: slot -> [(t, pid, bytes)]."""

    def __init__(self, system: SoakSystem, every: float = 10.0) -> None:
        super().__init__(daemon=True, name="soak-rss")
        self.system, self.every = system, every
        self.samples: dict[str, list[tuple[float, int, int]]] = {}
        self.load: list[float] = []  # the machine's 1-minute load average at each sample
        self.stopping = threading.Event()

    def sample(self) -> None:
        now = time.monotonic()
        self.load.append(os.getloadavg()[0])
        for slot, (pid, rss) in self.system.sample_rss().items():
            self.samples.setdefault(slot, []).append((now, pid, rss))

    def run(self) -> None:
        while not self.stopping.wait(self.every):
            try:
                self.sample()
            except Exception as exc:  # a process between kill and restart
                print(f"soak: rss sample: {exc}")

    def figures(self, t0: float, warm: float) -> dict[str, Any]:
        """Per slot: MB at start, after warm-up, at the end; growth per hour of the pid
        that lived longest after warm-up (the line through its samples)."""
        out = {}
        for slot, rows in sorted(self.samples.items()):
            after = [r for r in rows if r[0] >= warm]
            by_pid: dict[int, list] = {}
            for row in after:
                by_pid.setdefault(row[1], []).append(row)
            longest = max(by_pid.values(), key=lambda rs: rs[-1][0] - rs[0][0], default=[])
            span = longest[-1][0] - longest[0][0] if longest else 0
            mb = lambda b: round(b / 2**20, 1)  # noqa: E731
            out[slot] = {
                "start_mb": mb(rows[0][2]), "warm_mb": mb(after[0][2]) if after else None,
                "end_mb": mb(rows[-1][2]), "pids": len({r[1] for r in rows}),
                "growth_mb_per_hour": round(_slope(longest) * 3600 / 2**20, 1) if span >= 60 else None,
                "measured_minutes": round(span / 60, 1),
                # [minute, pid, MB], one sample a minute, to see a step from a slope
                "series": [[round((t - t0) / 60, 1), pid, mb(b)] for t, pid, b in rows[::6]],
            }
        return out


def _slow_slots(parts: list[dict[str, Any]], started_at: float) -> dict[str, int]:
    """Live events slower than 1 s per 10 s slot, by the slot's start in seconds into
    the soak (to see them against the faults' times)."""
    slots: Counter = Counter()
    for part in parts:
        for slot, count in part["slow"].items():
            slots[round(slot - started_at)] += count
    return {str(k): v for k, v in sorted(slots.items())}


def _slope(rows: list[tuple[float, int, int]]) -> float:
    """Least-squares bytes per second through (t, rss)."""
    n = len(rows)
    if n < 2:
        return 0.0
    mt = sum(r[0] for r in rows) / n
    mr = sum(r[2] for r in rows) / n
    den = sum((r[0] - mt) ** 2 for r in rows)
    return sum((r[0] - mt) * (r[2] - mr) for r in rows) / den if den else 0.0


def redis_figures(system: SoakSystem, warm_shapes: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """Keys without a TTL that no documented bound covers, and key shapes without a TTL
    whose count grew since warm-up (a queue or a registry may appear once)."""
    client = system.redis.client()
    later = keys_without_ttl(client)
    shapes = key_shapes(client)
    grown = {shape: [warm_shapes.get(shape, (0, 0))[0], count] for shape, (count, ttl) in shapes.items()
             if ttl == -1 and count > warm_shapes.get(shape, (0, 0))[0]
             and not shape.startswith(("rq:queue:", "rq:scheduled:", "rq:workers", "rq:worker:"))}
    info = client.info("memory")
    return {"keys": client.dbsize(), "used_memory_mb": round(info["used_memory"] / 2**20, 1),
            "without_ttl": sorted(later), "unbounded": unbounded(client, later), "grown_without_ttl": grown,
            "shapes": {s: {"keys": c, "longest_ttl": t} for s, (c, t) in sorted(shapes.items())}}


def page_plan(system: SoakSystem, clients: int) -> list[tuple[str | None, str | None]]:
    """Where each page connects: (a web process's own URL, None) for one in four to each
    web process directly (they wait for their process to come back), else (None: nginx,
    a loopback source address), so nginx's ip_hash spreads the rest over both and moves
    them to the other when one dies."""
    plan = []
    for i in range(clients):
        if i % 4 < 2:
            plan.append(((system.web_a, system.web_b)[i % 4].base_url, None))
        else:
            plan.append((None, f"127.0.{1 + i % SOURCE_ADDRESSES}.1"))
    return plan


async def soak(system: SoakSystem, minutes: float, fault_every: float, clients: int, rate: float,
               warmup: float, client_procs: int = 2) -> dict[str, Any]:
    """Run the soak on a started system; the figures."""
    mix, scheduled = create_tasks(system)
    pages = page_plan(system, clients)
    bounds = [round(i * clients / client_procs) for i in range(client_procs + 1)]
    groups = [RemoteGroup(system.url, pages[bounds[i]:bounds[i + 1]], "websocket", SoakGroup)
              for i in range(client_procs)]
    for i, group in enumerate(groups):
        system.extra_pids[f"clients-{i}"] = lambda g=group: g.process.pid
    rss = RssLog(system)
    driver = RunDriver(system.url, mix, rate)
    try:
        await asyncio.gather(*(g.connect() for g in groups))
        connections = system.connections_per_web()
        head_before = system.head()
        await asyncio.gather(*(g.reset() for g in groups))
        t0, started_at = time.monotonic(), time.time()
        rss.sample()
        rss.start()
        driver.start()
        end, warm = t0 + minutes * 60, t0 + warmup
        warm_shapes: dict = {}
        database_warm = None
        kinds = itertools.cycle(FAULTS)
        next_fault = t0 + fault_every
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= warm and database_warm is None:
                database_warm = system.database_figures()
                warm_shapes = key_shapes(system.redis.client())
            if now >= next_fault and end - now > 5:
                record = system.fault(next(kinds))
                print(f"soak: {round(now - t0)} s: {record}", flush=True)
                next_fault += fault_every
            await asyncio.sleep(min(1.0, max(0.05, min(next_fault, end) - time.monotonic())))
        driver.stopping.set()
        driver.join(15)
        for task in scheduled:
            system.web_a.api("PATCH", f"/tasks/{task['id']}", json={"enabled": False})
        ended_at = time.monotonic()
        system.wait_healthy()
        deadline = ended_at + SETTLE_SECONDS
        while (stuck := system.unfinished_runs()) and time.monotonic() < deadline:
            await asyncio.sleep(1)
        rss.stopping.set()
        rss.sample()
        window = array("q", system.event_ids(head_before))
        parts = await asyncio.gather(*(g.check(window, 90) for g in groups))
        database = system.database_figures()
        database["by_kind"] = system.run_times()
        redis = redis_figures(system, warm_shapes)
    finally:
        driver.stopping.set()
        rss.stopping.set()
        await asyncio.gather(*(g.close() for g in groups), return_exceptions=True)

    pages = [page for part in parts for page in part["pages"]]
    totals = {key: sum(p[key] for p in pages) for key in pages[0]}
    worst = {key: max(p[key] for p in pages) for key in ("lost", "doubled", "out_of_order")}
    seconds = ended_at - t0
    runs = database["runs_by_status"]
    return {
        "minutes": minutes, "fault_every_s": fault_every, "clients": clients, "target_runs_per_s": rate,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "faults": [dict(f, at_s=round(f["at"] - started_at, 1)) for f in system.faults],
        "fault_kinds": sorted({f["kind"] for f in system.faults}),
        "runs": sum(runs.values()), "runs_per_s": round(sum(runs.values()) / seconds, 2),
        "run_now_answers": {str(k): v for k, v in driver.answers.items()},
        "stuck_runs": stuck, "events_in_window": len(window),
        "lost": totals["lost"], "doubled": totals["doubled"], "out_of_order": totals["out_of_order"],
        "worst_page": worst,
        "pages_with_loss": sum(1 for p in pages if p["lost"]),
        "pages_connected_at_end": totals["connected"], "pages_behind_at_end": totals["behind"],
        "raw": {key: totals[key] for key in ("live_doubled", "live_out_of_order", "live_and_replayed", "replayed",
                                             "connects",
                                             "subscribes", "refusals", "gaps")},
        "connections_per_web_at_start": connections,
        "emit_to_page_ms": histogram_summary(merge_histograms([part["latency"] for part in parts])),
        "slow_events_by_10s": _slow_slots(parts, started_at),
        "rss": rss.figures(t0, warm), "warmup_s": warmup,
        "machine": {"cpus": os.cpu_count(), "load_average_mean": round(sum(rss.load) / len(rss.load), 2),
                    "load_average_max": round(max(rss.load), 2)},
        "database_at_warmup": database_warm, "database": database, "redis": redis,
    }


def run_soak(minutes: float, fault_every: float = 120, clients: int = 200, rate: float = 9,
             warmup: float | None = None, client_procs: int = 2, workdir: Path | None = None,
             trace_memory: Path | None = None) -> dict[str, Any]:
    """Start the system, soak it, stop it; the figures (the test's entry point)."""
    warmup = min(300.0, minutes * 60 / 4) if warmup is None else warmup
    if trace_memory:  # every process started from here on (bench/memtrace/sitecustomize.py)
        os.environ.update(TASKPULSE_TRACEMALLOC_DIR=str(trace_memory),
                          PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "bench" / "memtrace"),
                                                                   os.environ.get("PYTHONPATH")])))
    with tempfile.TemporaryDirectory(prefix="taskpulse-soak-") as tmp:
        system = SoakSystem(workdir or Path(tmp))
        try:
            system.start()
            return asyncio.run(soak(system, minutes, fault_every, clients, rate, warmup, client_procs))
        except Exception:
            print(system.logs()[-20000:])
            raise
        finally:
            system.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="soak with rolling faults on PostgreSQL")
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--fault-every", type=float, default=120, help="seconds between faults (default 120)")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rate", type=float, default=9, help="Run Now a second (default 9; the schedules add ~1)")
    parser.add_argument("--warmup", type=float, help="seconds (default: a quarter of the soak, at most 300)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--trace-memory", type=Path, metavar="DIR",
                        help="tracemalloc in every process; growth by line every minute into DIR")
    args = parser.parse_args()
    figures = run_soak(args.minutes, args.fault_every, args.clients, args.rate, args.warmup,
                       trace_memory=args.trace_memory)
    emit_json(figures, args.out or OUT / f"soak-{args.minutes:g}m.json")


if __name__ == "__main__":
    main()
