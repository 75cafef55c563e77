"""A task's ``env``: names mapped to plain strings or to ``{"secret": "<name>"}``,
checked when the task is saved (a reference to a missing secret is refused) and
resolved by the worker when a run starts (a secret deleted since then fails the run,
saying which).
"""
from __future__ import annotations

import re
from typing import Any

from webapp.core.errors import ValidationError
from webapp.secrets import vault

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# Taskpulse's own: the run variables, PARAM_* (the parameters) and every TASKPULSE_*
# setting the worker keeps from jobs.
RESERVED_PREFIXES = ("TASKPULSE_", "PARAM_")
MAX_ENV = 50
MAX_VALUE_CHARS = 4096
MAX_TOTAL_CHARS = 64 * 1024


class MissingSecret(Exception):
    """A run's env refers to a secret that no longer exists."""


def clean_env(value: Any) -> dict[str, Any] | None:
    """A task's ``env`` field: null or ``{NAME: "text" | {"secret": name}}``.

    Raises:
        ValidationError: naming the variable (``env.<NAME>``).
    """
    if value is None or value == {}:
        return None
    if not isinstance(value, dict) or len(value) > MAX_ENV:
        raise ValidationError(f"must be null or an object of at most {MAX_ENV} variables", "env")
    out: dict[str, Any] = {}
    total = 0
    for name, item in value.items():
        field = f"env.{str(name)[:128]}"
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise ValidationError("a variable name is a letter or _ then letters, digits or _ "
                                  "(at most 128)", field)
        if name.upper().startswith(RESERVED_PREFIXES):
            raise ValidationError("TASKPULSE_* and PARAM_* are Taskpulse's own", field)
        if isinstance(item, dict):
            if set(item) != {"secret"}:
                raise ValidationError("must be a string or {\"secret\": \"<secret name>\"}", field)
            out[name] = {"secret": vault.check_name(item["secret"], field)}
        elif isinstance(item, str):
            if len(item) > MAX_VALUE_CHARS or "\x00" in item:
                raise ValidationError(f"must be at most {MAX_VALUE_CHARS} characters, without NUL", field)
            out[name] = item
            total += len(item)
        else:
            raise ValidationError("must be a string or {\"secret\": \"<secret name>\"}", field)
        total += len(name)
    if total > MAX_TOTAL_CHARS:
        raise ValidationError(f"the variables add up to more than {MAX_TOTAL_CHARS} characters", "env")
    references = {n: r["secret"] for n, r in out.items() if isinstance(r, dict)}
    known = vault.existing_names(sorted(set(references.values())))
    for name, secret in references.items():
        if secret not in known:
            raise ValidationError(f"no secret named {secret!r}", f"env.{name}")
    return out


def resolve(env: dict[str, Any] | None) -> tuple[dict[str, str], list[str]]:
    """``(variables, secret values)`` of a task's env at run time (worker side).

    Raises:
        MissingSecret: naming the secret and the variable that refers to it.
        vault.SecretUnreadable, keys.NoSecretsKey: the key ring cannot open it.
    """
    variables: dict[str, str] = {}
    secrets: list[str] = []
    for name, item in (env or {}).items():
        if isinstance(item, dict):
            value = vault.reveal(item["secret"])
            if value is None:
                raise MissingSecret(f"secret {item['secret']!r} (env {name}) does not exist: "
                                    f"it was deleted after the task was saved")
            variables[name] = value
            secrets.append(value)
        else:
            variables[name] = item
    return variables, secrets
