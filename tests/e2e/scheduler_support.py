"""The live system plus scheduler processes, for the scheduler's whole-system tests and
``bench/schedule_lag.py``: start and kill schedulers, find the leader, read runs with
their exact times straight from the database (the API rounds times to the second).

The tests wait for what the system does rather than for a time: a run for a given
fire, a task's ``next_run_at`` moving past an instant (the leader handled those fires,
with a run or without), every run ended, a line in a scheduler's log."""
from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from tests.support.processes import VENV_BIN, Process, RedisServer, Stack, wait_until
from webapp.core.models import TERMINAL_STATUSES, Task, TaskRun
from webapp.core.timeutil import as_utc
from webapp.scheduling.pause import LEADER_KEY


class SchedulerSystem:
    """Web + one forking worker (a Stack) on a Redis, and any number of schedulers."""

    def __init__(self, workdir: Path, redis_server: RedisServer, database_url: str | None = None,
                 workers: int = 1) -> None:
        self.workdir = workdir
        self.redis = redis_server
        self.stack = Stack(redis_server, workdir, async_mode="eventlet", database_url=database_url)
        self.workers = workers
        self.schedulers: list[Process] = []
        self.task_ids: list[int] = []
        self._count = 0
        self.engine = None

    def start(self) -> SchedulerSystem:
        self.redis.client().flushdb()
        try:
            self.stack.start(workers=self.workers)
        except Exception:
            print(self.logs())
            self.stack.stop()
            raise
        # Pre-ping: a database restarted under a test (tests/e2e/test_postgres_outage.py)
        # leaves cut connections in the pool.
        self.engine = create_engine(self.stack.env["DATABASE_URL"], pool_pre_ping=True)
        return self

    def stop(self) -> None:
        self.stop_schedulers()
        self.stack.stop()
        if self.engine is not None:
            self.engine.dispose()

    # --- schedulers -------------------------------------------------------------------

    def start_scheduler(self, extra_env: dict[str, str] | None = None) -> Process:
        """Start ``python -m worker.scheduler`` with the stack's environment."""
        self._count += 1
        env = dict(self.stack.env, **(extra_env or {}))
        process = Process(f"scheduler-{self.stack.port}-{self._count}",
                          [str(VENV_BIN / "python"), "-m", "worker.scheduler"], env, self.workdir).start()
        self.schedulers.append(process)
        return process

    def stop_schedulers(self) -> None:
        for process in self.schedulers:
            process.stop()
        self.schedulers.clear()

    def leader(self) -> str | None:
        """The leader lock's token (``host:pid:nonce``), or None."""
        token = self.redis.client().get(LEADER_KEY)
        return token.decode() if token else None

    def wait_for_leader(self, timeout: float = 20, other_than: str | None = None) -> str:
        return wait_until(lambda: (t := self.leader()) and t != other_than and t, timeout,
                          interval=0.02, what="a scheduler to lead")

    def process_of(self, token: str) -> Process:
        pid = int(token.split(":")[1])
        return next(p for p in self.schedulers if p.pid == pid)

    def kill(self, process: Process) -> None:
        """SIGKILL, as an OOM killer or a lost host would."""
        os.killpg(process.pid, signal.SIGKILL)
        process.proc.wait(5)

    # --- tasks and runs ---------------------------------------------------------------

    def create_task(self, name: str, command: str = "true", **fields: Any) -> dict:
        task = self.stack.create_task(name, command, **fields)
        self.task_ids.append(task["id"])
        return task

    def delete_tasks(self) -> None:
        for task_id in self.task_ids:
            self.stack.api("DELETE", f"/tasks/{task_id}")
        self.task_ids.clear()

    def task(self, task_id: int) -> dict[str, Any]:
        """The task row with exact (aware UTC) times."""
        with self.engine.connect() as conn:
            row = conn.execute(select(Task.__table__).where(Task.id == task_id)).mappings().one()
        return {k: as_utc(v) if isinstance(v, datetime) else v for k, v in row.items()}

    def runs(self, task_id: int) -> list[dict[str, Any]]:
        """The task's runs, oldest first, with exact (aware UTC) times."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(TaskRun.__table__).where(TaskRun.task_id == task_id).order_by(TaskRun.id)
            ).mappings().all()
        return [{k: as_utc(v) if isinstance(v, datetime) else v for k, v in row.items()} for row in rows]

    def wait_runs(self, task_id: int, count: int, timeout: float, **match: Any) -> list[dict[str, Any]]:
        """Wait until the task has ``count`` runs with the given field values."""
        def enough():
            runs = [r for r in self.runs(task_id) if all(r[k] == v for k, v in match.items())]
            return runs if len(runs) >= count else None
        return wait_until(enough, timeout, interval=0.1, what=f"{count} runs of task {task_id} with {match}")

    def wait_fired(self, task_id: int, instant: datetime, timeout: float) -> list[dict[str, Any]]:
        """Wait until the task has a run for a fire at or after ``instant``; its runs.

        The leader handles a task's fires in order (each moves ``next_run_at`` on), so
        every fire before that one has been handled too: made its run, or none."""
        return wait_until(lambda: (runs := self.runs(task_id)) and
                          any(r["scheduled_for"] is not None and r["scheduled_for"] >= instant for r in runs)
                          and runs,
                          timeout, interval=0.1, what=f"a run of task {task_id} for a fire at or after {instant}")

    def wait_advanced(self, task_id: int, instant: datetime, timeout: float) -> dict[str, Any]:
        """Wait until the task's ``next_run_at`` is past ``instant``: a leader has handled
        every fire of the task up to it, with a run or (paused, disabled, missed) without.

        It proves the scheduler ran then, which a sleep cannot: a test that asserts no
        run came waits for this first. The task row is returned."""
        return wait_until(lambda: (t := self.task(task_id))["next_run_at"] is not None and
                          t["next_run_at"] > instant and t,
                          timeout, interval=0.1, what=f"task {task_id}'s next_run_at to pass {instant}")

    def wait_ended(self, task_ids: Iterable[int], timeout: float) -> None:
        """Wait until every run of the tasks has a terminal status."""
        ids = list(task_ids)
        wait_until(lambda: all(r["status"] in TERMINAL_STATUSES for t in ids for r in self.runs(t)),
                   timeout, interval=0.1, what=f"every run of tasks {ids} to end")

    def logs(self) -> str:
        parts = [self.stack.logs()]
        parts += [f"===== {p.name} =====\n{p.output()[-4000:]}" for p in self.schedulers]
        return "\n".join(parts)


def sleep_until(deadline: float) -> None:
    """Sleep until the ``time.time()`` instant ``deadline`` (for an outage that must last
    until then, not to wait for something to happen)."""
    time.sleep(max(0.0, deadline - time.time()))
