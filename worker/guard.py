"""Which RQ jobs a Taskpulse worker may run: only Taskpulse's own job function, with the
arguments and callbacks dispatch gives it. Anyone who can write to Redis can put a job on
the ``taskpulse`` queue; RQ would import and call whatever function it names
(``subprocess.call``, ``os.system``), so every other job is refused before it runs.

Jobs are read with RQ's JSON serializer only: unpickling a job's data would already run
code of the writer's choosing, before any check could look at it.
"""
from __future__ import annotations

from typing import Any

from rq.job import Job
from rq.serializers import JSONSerializer

from webapp.runs.dispatch import CALLBACKS, DELIVERY_FUNCTION, JOB_FUNCTION, SUMMARY_FUNCTION
from webapp.runs.state import run_id_from_job_id

ALLOWED_CALLBACKS = frozenset(CALLBACKS.values())


def is_json_serializer(serializer: Any) -> bool:
    """True for RQ's JSON serializer (the class, a subclass or an instance of either)."""
    kind = serializer if isinstance(serializer, type) else type(serializer)
    return issubclass(kind, JSONSerializer)


def foreign_reason(job: Job) -> str | None:
    """Why ``job`` is not a Taskpulse run's job (then it must not run), or None.

    A Taskpulse job is ``worker.runner.execute_run(<run id>)`` with id ``run-<run id>``,
    no keyword arguments, no instance, no webhooks, and callbacks from
    ``worker.callbacks`` only (RQ imports and calls those too).
    """
    try:
        func_name, instance, args, kwargs = job.func_name, job.instance, job.args, job.kwargs
    except Exception:  # DeserializationError: not JSON (a pickle?) or damaged
        return "its data is not Taskpulse's JSON job format"
    if instance is None and func_name in (DELIVERY_FUNCTION, SUMMARY_FUNCTION):
        return _delivery_reason(job, func_name, args, kwargs)
    if func_name != JOB_FUNCTION or instance is not None:
        return f"it calls {func_name!r}, and this worker runs only {JOB_FUNCTION}"
    run_id = run_id_from_job_id(job.id)
    if (run_id is None or kwargs or not isinstance(args, (list, tuple)) or len(args) != 1
            or type(args[0]) is not int or args[0] != run_id):
        return f"its id and arguments are not those of a Taskpulse run ({job.id!r}, {args!r})"
    for name in ("_success_callback_name", "_failure_callback_name", "_stopped_callback_name"):
        callback = getattr(job, name, None)
        if callback is not None and callback not in ALLOWED_CALLBACKS:
            return f"its callback {callback!r} is not one of Taskpulse's"
    if getattr(job, "webhooks", None):
        return "it has webhooks, which Taskpulse never sets"
    return None


def _delivery_reason(job: Job, func_name: str, args: Any, kwargs: Any) -> str | None:
    """An alert delivery is ``deliver(<id>)`` with id ``notify-<id>``, or
    ``send_summary(<channel id>, <window>)`` with id ``notify-summary-<channel>-<window>``;
    neither has keyword arguments, callbacks or webhooks."""
    ints = isinstance(args, (list, tuple)) and all(type(a) is int and a >= 0 for a in args)
    if func_name == DELIVERY_FUNCTION:
        expected = f"notify-{args[0]}" if ints and len(args) == 1 else None
    else:
        expected = f"notify-summary-{args[0]}-{args[1]}" if ints and len(args) == 2 else None
    if kwargs or expected is None or job.id != expected:
        return f"its id and arguments are not those of an alert delivery ({job.id!r}, {args!r})"
    for name in ("_success_callback_name", "_failure_callback_name", "_stopped_callback_name"):
        if getattr(job, name, None) is not None:
            return "an alert delivery has no callbacks"
    if getattr(job, "webhooks", None):
        return "it has webhooks, which Taskpulse never sets"
    return None
