"""The soak's system and its faults: Taskpulse on a private PostgreSQL cluster (so it can
be restarted), its own redis-server (append-only file on, so a restart keeps the queue,
as a production Redis does), two eventlet web processes behind the shipped nginx
config, two forking workers and two schedulers; and the five faults, each of which the
system must ride out with nothing lost and nothing stuck.

The processes come from the test suite's own helpers (tests/support/): a Stack is the
web process and its workers, SchedulerSystem adds schedulers and exact database reads.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any, Callable

import psutil
from sqlalchemy import text

from bench.common import ROOT  # noqa: F401  (puts the repository on sys.path)
from tests.e2e.scheduler_support import SchedulerSystem
from tests.support.nginx import Nginx
from tests.support.postgres_cluster import PostgresCluster
from tests.support.processes import Process, RedisServer, Stack, wait_until

# The services' environment: longer than any outage the soak makes, so no worker's
# state change gives up while PostgreSQL restarts.
SOAK_ENV = {"TASKPULSE_DB_RETRY_SECONDS": "90", "TASKPULSE_PROXY_HOPS": "1"}
# How long a restarted process may take to answer: generous, the machine may be loaded.
RESTART_TIMEOUT = 120
FAULTS = ("redis", "web", "worker", "scheduler", "postgres")


def _rss(pid: int, children: bool = False) -> int:
    """Resident bytes of ``pid`` (and of its children: PostgreSQL's backends, nginx's
    workers); 0 when it is gone."""
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)] if children else [proc]
        return sum(p.memory_info().rss for p in procs if p.is_running())
    except psutil.Error:
        return 0


class SoakSystem:
    """Start, hurt and measure the whole system."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.cluster = PostgresCluster()
        self.redis = RedisServer(workdir, appendonly=True)
        self.system = SchedulerSystem(workdir, self.redis, self.cluster.url, workers=2)
        self.system.stack.env.update(SOAK_ENV)
        self.web_b = Stack(self.redis, workdir, database_url=self.cluster.url, extra_env=SOAK_ENV)
        self.nginx: Nginx | None = None
        self.workers: list[Process] = []  # the two live workers (a killed one is replaced)
        self.faults: list[dict[str, Any]] = []
        self.extra_pids: dict[str, Callable[[], int | None]] = {}

    @property
    def web_a(self) -> Stack:
        return self.system.stack

    @property
    def url(self) -> str:
        assert self.nginx is not None
        return self.nginx.url

    def start(self) -> "SoakSystem":
        self.cluster.start()
        self.redis.start()
        self.system.start()
        self.workers = list(self.web_a.workers)
        self.web_b.start(workers=0)
        for _ in range(2):
            self.system.start_scheduler()
        self.system.wait_for_leader(60)
        self.nginx = Nginx(self.workdir, [self.web_a.port, self.web_b.port]).start()
        return self

    def stop(self) -> None:
        for step in (lambda: self.nginx and self.nginx.stop(), self.web_b.stop, self.system.stop,
                     self.redis.stop, self.cluster.remove):
            try:
                step()
            except Exception as exc:  # stop the rest whatever one of them says
                print(f"soak: stopping: {exc}")

    def logs(self) -> str:
        return "\n".join([self.system.logs(), self.web_b.logs(), "===== postgres =====", self.cluster.log()[-3000:]])

    # -- faults ------------------------------------------------------------------------

    def fault(self, kind: str) -> dict[str, Any]:
        """Make one fault happen and recover from it as an operator's restart would;
        what happened, with how long the thing was away."""
        started, at = time.monotonic(), time.time()
        detail = getattr(self, f"_fault_{kind}")()
        record = {"kind": kind, "at": round(at, 1), "seconds": round(time.monotonic() - started, 2),
                  **(detail or {})}
        self.faults.append(record)
        return record

    def _fault_redis(self) -> dict[str, Any]:
        self.redis.stop()
        self.redis.start()
        return {}

    def _fault_web(self) -> dict[str, Any]:
        web = self.web_b.web
        os.killpg(web.pid, signal.SIGKILL)  # as the OOM killer does
        web.proc.wait(10)
        web.stop()
        self.web_b.start_web(RESTART_TIMEOUT)
        return {"killed_pid": web.pid, "new_pid": self.web_b.web.pid}

    def _fault_worker(self) -> dict[str, Any]:
        worker = self.workers[1]
        os.killpg(worker.pid, signal.SIGKILL)  # the worker, its work horse and the horse's job
        worker.proc.wait(10)
        worker.stop()
        self.workers[1] = self.web_a.start_worker(timeout=RESTART_TIMEOUT)
        return {"killed_pid": worker.pid, "new_pid": self.workers[1].pid}

    def _fault_scheduler(self) -> dict[str, Any]:
        token = self.system.wait_for_leader(60)
        leader = self.system.process_of(token)
        self.system.kill(leader)
        self.system.schedulers.remove(leader)
        self.system.start_scheduler()
        self.system.wait_for_leader(60, other_than=token)
        return {"killed_pid": leader.pid, "was_leader": True}

    def _fault_postgres(self) -> dict[str, Any]:
        self.cluster.stop("fast")  # sessions are cut, as a deploy's restart does
        self.cluster.start()
        return {}

    # -- measurements ------------------------------------------------------------------

    def pids(self) -> dict[str, tuple[int | None, bool]]:
        """Each process slot -> (its pid now, whether its children count too)."""
        postmaster = self.cluster.data / "postmaster.pid"
        slots: dict[str, tuple[int | None, bool]] = {
            "web-a": (self.web_a.web.pid, False),
            "web-b": (self.web_b.web.pid, False),
            **{f"worker-{i}": (w.pid, False) for i, w in enumerate(self.workers)},
            **{f"scheduler-{i}": (s.pid, False) for i, s in enumerate(self.system.schedulers)},
            "redis": (self.redis.process.pid, False),
            "nginx": (self.nginx.process.pid if self.nginx else None, True),
            "postgres": (int(postmaster.read_text().split()[0]) if postmaster.exists() else None, True),
        }
        slots.update({name: (get(), False) for name, get in self.extra_pids.items()})
        return slots

    def sample_rss(self) -> dict[str, tuple[int, int]]:
        """slot -> (pid, RSS bytes) now."""
        return {slot: (pid, _rss(pid, children)) for slot, (pid, children) in self.pids().items() if pid}

    def database_figures(self) -> dict[str, Any]:
        """The database's size, the event log's rows and size, and the runs by status."""
        with self.system.engine.connect() as conn:
            scalar = lambda sql: conn.execute(text(sql)).scalar()  # noqa: E731
            by_status = dict(conn.execute(text(
                "SELECT status, count(*) FROM taskpulse_task_runs GROUP BY status")).all())
            return {
                "database_mb": round(scalar("SELECT pg_database_size(current_database())") / 2**20, 1),
                "event_log_rows": scalar("SELECT count(*) FROM taskpulse_events"),
                "event_log_mb": round(scalar("SELECT pg_total_relation_size('taskpulse_events')") / 2**20, 1),
                "runs_table_mb": round(scalar("SELECT pg_total_relation_size('taskpulse_task_runs')") / 2**20, 1),
                "runs_by_status": by_status,
            }

    def run_times(self) -> dict[str, dict[str, Any]]:
        """Per kind of task (its name without the copy number): runs, and mean seconds
        queued -> started and started -> finished (where the workers' time goes)."""
        with self.system.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT regexp_replace(t.name, '-[0-9]+$', '') AS kind, count(*) AS runs, "
                "avg(extract(epoch FROM r.started_at - r.queued_at)) AS waited, "
                "avg(extract(epoch FROM r.finished_at - r.started_at)) AS ran "
                "FROM taskpulse_task_runs r JOIN taskpulse_tasks t ON t.id = r.task_id GROUP BY 1 ORDER BY 1"
            )).mappings().all()
        return {row["kind"]: {"runs": row["runs"],
                              "queued_to_started_s": round(float(row["waited"] or 0), 3),
                              "started_to_finished_s": round(float(row["ran"] or 0), 3)} for row in rows}

    def event_ids(self, after: int) -> list[int]:
        """The seqs of room ``tasks`` (every ``task_update``) after ``after``, from the log
        itself: PostgreSQL's sequence skips ids a rolled-back insert took."""
        with self.system.engine.connect() as conn:
            return list(conn.execute(text(
                "SELECT id FROM taskpulse_events WHERE id > :after AND name = 'task_update' ORDER BY id"),
                {"after": after}).scalars())

    def head(self) -> int:
        with self.system.engine.connect() as conn:
            return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM taskpulse_events")).scalar())

    def unfinished_runs(self) -> list[dict[str, Any]]:
        with self.system.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT id, task_id, status, trigger, queued_at FROM taskpulse_task_runs "
                "WHERE status IN ('queued', 'running', 'retrying') ORDER BY id")).mappings().all()
        return [dict(row, queued_at=str(row["queued_at"])) for row in rows]

    def connections_per_web(self) -> dict[str, int]:
        """Established TCP connections each web process holds (nginx's upstream side)."""
        counts = {}
        for name, stack in (("web-a", self.web_a), ("web-b", self.web_b)):
            try:
                conns = psutil.Process(stack.web.pid).net_connections("tcp")
                counts[name] = sum(1 for c in conns if c.status == psutil.CONN_ESTABLISHED
                                   and c.laddr and c.laddr.port == stack.port)
            except psutil.Error:
                counts[name] = -1
        return counts

    def wait_healthy(self, timeout: float = 60) -> None:
        """Every process is up again (after the last fault)."""
        wait_until(lambda: self.redis.ping() and self.cluster.ready() and self.system.leader(), timeout,
                   interval=0.5, what="Redis, PostgreSQL and a scheduler leader")
