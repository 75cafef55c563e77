"""The live system plus scheduler processes, for the scheduler's whole-system tests and
``bench/schedule_lag.py``: start and kill schedulers, find the leader, read runs with
their exact times straight from the database (the API rounds times to the second)."""
from __future__ import annotations

import os
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from tests.support.processes import VENV_BIN, Process, RedisServer, Stack, wait_until
from webapp.models import Task, TaskRun
from webapp.scheduler_state import LEADER_KEY
from webapp.timeutil import as_utc


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
        self.engine = create_engine(self.stack.env["DATABASE_URL"])
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

    def logs(self) -> str:
        parts = [self.stack.logs()]
        parts += [f"===== {p.name} =====\n{p.output()[-4000:]}" for p in self.schedulers]
        return "\n".join(parts)


def sleep_until(deadline: float) -> None:
    """Sleep until the ``time.time()`` instant ``deadline``."""
    time.sleep(max(0.0, deadline - time.time()))
