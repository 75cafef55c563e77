"""The environment a job runs with: an allow-list of the worker's variables plus the
run's own, never the worker's settings (``SECRET_KEY``, ``ADMIN_PASSWORD``,
``DATABASE_URL``, ``REDIS_URL``, any other ``TASKPULSE_*``): any viewer can read a job's
output, and a task printing ``env`` or running ``set -x`` would show them.

Shell commands get :func:`for_run` as their whole environment; the work horse replaces
its own ``os.environ`` with it too (:func:`confine_process`), so a python job, and any
process it starts, sees no more than a shell command would.
"""
from __future__ import annotations

import ctypes
import fnmatch
import logging
import os
import re
from collections.abc import Mapping

log = logging.getLogger(__name__)

# The one allow-list (design.md, "Hardened defaults"): names, or shell-style patterns.
ALLOWED_ENV = ("PATH", "HOME", "LANG", "LC_*", "TZ", "USER", "LOGNAME", "SHELL", "TMPDIR")
PR_SET_DUMPABLE = 4  # <linux/prctl.h>
PR_GET_DUMPABLE = 3
# What every job is told about itself.
RUN_ID_VAR = "TASKPULSE_RUN_ID"
TASK_VAR = "TASKPULSE_TASK"


# The allow-list as one pattern (matched for every variable in every work horse).
_ALLOWED = re.compile("|".join(f"(?:{fnmatch.translate(pattern)})" for pattern in ALLOWED_ENV))


def allowed(name: str) -> bool:
    """True when the worker's variable ``name`` may pass into a job."""
    return _ALLOWED.match(name) is not None


def base_environment(source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed part of ``source`` (default: this process's environment)."""
    source = os.environ if source is None else source
    return {name: value for name, value in source.items() if allowed(name)}


def for_run(run_id: int, task_name: str, source: Mapping[str, str] | None = None,
            extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of run ``run_id`` of task ``task_name``.

    ``extra`` is what the run adds of its own (its task's ``env`` and its ``PARAM_*``
    variables, :mod:`worker.inputs`): on top of the allow-list, never replacing the two
    run variables.
    """
    env = base_environment(source)
    env.update(extra or {})
    env[RUN_ID_VAR] = str(run_id)
    env[TASK_VAR] = task_name
    return env


def confine_process(env: Mapping[str, str]) -> None:
    """Make ``env`` this process's whole environment (in a work horse, which exits after
    its one job: the worker's own environment is untouched)."""
    os.environ.clear()
    os.environ.update(env)


def hide_from_jobs() -> bool:
    """Make this process (the worker) and the work horses it forks non-dumpable, so a
    job running as the same user cannot read their ``/proc/<pid>/environ`` (which keeps
    the environment the process started with, secrets included) or attach a debugger.
    A job's own command is dumpable again once it is exec'd, with its confined
    environment. Root can still read everything: run workers as a user of their own.

    Returns True when the flag was set (Linux), False elsewhere.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")
    except (OSError, AttributeError) as exc:
        log.warning("could not hide the worker's environment from jobs (%s)", exc)
        return False
    return True
