"""A bench-only worker class that stamps each step of the Run Now path, and can profile
the work horse with pyinstrument.

    rq worker --worker-class bench.profiling.TimedWorker ...

With ``TASKPULSE_BENCH_STAMPS=<dir>`` every process (the worker and each work horse)
appends one JSON line per job to ``<dir>/<pid>.jsonl``: ``{"job": id, "pid": pid,
"stamps": [[label, epoch seconds], ...]}``, the same clock as the events' ``emitted_at``.
With ``TASKPULSE_BENCH_PYINSTRUMENT=<dir>`` too, each work horse is profiled from its
first line after ``fork()`` to its exit and saves its session there
(``bench/profile_run_now.py`` adds them up).

It only wraps: the worker behaves exactly as :class:`worker.runner.TaskpulseWorker`.
"""
from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

from rq.job import Job
from rq.queue import Queue

from worker.runner import TaskpulseWorker

_stamps: list[list[Any]] = []
_DIR = os.environ.get("TASKPULSE_BENCH_STAMPS")
_PROFILE_DIR = os.environ.get("TASKPULSE_BENCH_PYINSTRUMENT")


def stamp(label: str) -> None:
    """Note that ``label`` happened now in this process."""
    _stamps.append([label, time.time()])


def _flush(job_id: str) -> None:
    if not _DIR:
        return
    with open(Path(_DIR) / f"{os.getpid()}.jsonl", "a") as out:
        out.write(json.dumps({"job": job_id, "pid": os.getpid(), "stamps": _stamps}) + "\n")
    _stamps.clear()


def _wrap(owner: Any, name: str, before: str | None = None, after: str | None = None) -> None:
    """Stamp ``before`` and/or ``after`` each call of ``owner.name``."""
    original: Callable[..., Any] = getattr(owner, name)
    if getattr(original, "_bench_wrapped", False):
        return

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if before:
            stamp(before)
        try:
            return original(*args, **kwargs)
        finally:
            if after:
                stamp(after)

    wrapper._bench_wrapped = True  # type: ignore[attr-defined]
    setattr(owner, name, wrapper)


def install() -> None:
    """Wrap the steps of the path (module attributes, so the product's code is untouched)."""
    import rq.job
    import rq.worker.base
    from sqlalchemy.orm import Session

    import webapp.runs.state as state
    import worker.runner as runner
    from webapp.live import events

    _wrap(Queue, "dequeue_any", after="worker: dequeued")
    _wrap(rq.worker.base.BaseWorker, "prepare_execution", before="worker: prepare_execution",
          after="worker: prepared")
    _wrap(rq.job.Job, "prepare_for_execution", before="horse: rq prepare_for_execution")
    _wrap(runner.jobenv, "confine_process", after="horse: environment confined")
    _wrap(runner.procs, "remember", before="horse: procs.remember", after="horse: procs remembered")
    _wrap(runner, "update_task_status", before="horse: update_task_status", after="horse: status done")
    _wrap(runner.parent_watch, "start", after="horse: parent watch started")
    _wrap(state, "_is_latest_run", before="state: latest-run check", after="state: latest-run checked")
    _wrap(events, "record", before="state: event record", after="state: event recorded")
    _wrap(events, "publish", before="state: publish", after="state: published")
    _wrap(Session, "commit", before="state: commit", after="state: committed")
    _wrap(rq.job.Job, "perform", before="horse: job.perform", after="horse: job performed")
    _wrap(rq.job.Job, "execute_success_callback", before="horse: success callback",
          after="horse: success callback done")


class TimedWorker(TaskpulseWorker):
    """:class:`TaskpulseWorker` with stamps (and, optionally, pyinstrument in the horse)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        install()

    def execute_job(self, job: Job, queue: Queue) -> None:
        stamp("worker: execute_job")
        try:
            super().execute_job(job, queue)
        finally:
            stamp("worker: horse reaped")
            _flush(job.id)

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        stamp("worker: fork")
        super().fork_work_horse(job, queue)
        stamp("worker: forked")

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        # First line of the horse: the parent's stamps were copied by the fork.
        _stamps.clear()
        stamp("horse: started")
        profiler = None
        if _PROFILE_DIR:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            profiler.start()
        original_exit = os._exit

        def exit_after_flush(code: int) -> None:
            stamp("horse: exit")
            if profiler is not None:
                session = profiler.stop()
                session.save(str(Path(_PROFILE_DIR) / f"{job.id}.pyisession"))
            _flush(job.id)
            original_exit(code)

        os._exit = exit_after_flush  # type: ignore[assignment]
        super().main_work_horse(job, queue)
