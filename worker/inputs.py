"""What a run is given, opened in the work horse when its job starts: its parameter
values (secret ones unsealed), its task's env (secret references resolved) and the
mask of every secret value among them.

A missing secret or an unreadable one refuses the run (it ends ``failed``, saying which,
without retries: trying again would not bring the secret back).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webapp.core.errors import ApiError
from webapp.core.models import TaskRun
from webapp.secrets import env as task_env
from webapp.secrets import vault
from webapp.secrets.params import MASK, default_values, env_name, env_text

from .masking import Masker


class InputRefused(Exception):
    """The run's inputs cannot be had (a secret missing or unreadable): its message says which."""


@dataclass
class RunInputs:
    """A run's variables (task env, then ``PARAM_*``), python keyword arguments, mask."""

    variables: dict[str, str]
    kwargs: dict[str, Any]
    mask: Masker


def for_run(run: TaskRun) -> RunInputs:
    """The inputs of ``run`` (needs an app context).

    Raises:
        InputRefused: naming the secret or parameter that cannot be had.
    """
    task = run.task
    values = dict(run.params if run.params is not None else default_values(task.params) or {})
    try:
        sealed = vault.open_params(run.secret_params, run.id)
        variables, secrets = task_env.resolve(task.env)
    except (task_env.MissingSecret, ApiError) as exc:
        raise InputRefused(str(getattr(exc, "message", exc))) from None
    for name, value in sealed.items():
        values[name] = value
    secret_names = {d["name"] for d in task.params or [] if d.get("secret")}
    for name, value in values.items():
        if value == MASK and name in secret_names and name not in sealed:
            raise InputRefused(f"the value of secret parameter {name!r} is not available")
        variables[env_name(name)] = env_text(value)
    secrets += [env_text(sealed[name]) for name in sealed]
    return RunInputs(variables=variables, kwargs=values, mask=Masker(secrets))
