"""Validation of task fields as the JSON API and the CLI receive them."""
from __future__ import annotations

import math
import re
import unicodedata
from typing import Any, Callable

from flask import current_app
from sqlalchemy import select

from webapp.core.errors import ValidationError
from webapp.core.extensions import db
from webapp.core.models import CHAIN_WHEN, SLUG_PATTERN, TASK_DEFAULTS, Channel
from webapp.core.timeutil import parse_iso, utcnow
from webapp.runs.switches import callable_problem, defined_functions
from webapp.scheduling.cron import validate_schedule, zone
from webapp.scheduling.misfire import MISFIRE_POLICIES
from webapp.secrets.env import clean_env
from webapp.secrets.params import clean_definitions

KINDS = ("shell", "python")
OVERLAP_POLICIES = ("skip", "allow", "queue")
MAX_TIMEOUT = 7 * 24 * 3600
WRITABLE = (
    "name", "kind", "config", "description", "schedule", "timezone",
    "enabled", "timeout", "retries", "overlap", "misfire", "notify", "params", "env",
    "queue", "tags", "then",
)
SLUG = re.compile(SLUG_PATTERN)
MAX_TAGS = 20
MAX_THEN = 20
ALERT_KINDS = ("failure", "recovery", "late", "overrun", "success")
NOTIFY_KEYS = ("channels", "on", "after_failures", "late_after", "max_runtime")
DEFAULTS = TASK_DEFAULTS


def _storable(value: Any, field: str) -> None:
    """Refuse what cannot be stored and read back as JSON: lone surrogates, NUL
    (PostgreSQL), NaN and Infinity. Errors name the field down to two levels
    (``config.kwargs``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _storable(key, field)
            _storable(item, field if field.count(".") else f"{field}.{key}")
    elif isinstance(value, list):
        for item in value:
            _storable(item, field)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValidationError("must not contain NaN or Infinity", field)
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("contains invalid Unicode (a lone surrogate)", field) from None
        if "\x00" in value:
            raise ValidationError("must not contain NUL characters", field)


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError("must be a string", "name")
    name = value.strip()
    if not name or len(name) > 200:
        raise ValidationError("must be 1 to 200 characters", "name")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        raise ValidationError("must not contain control characters", "name")
    return name


def _shell_config(config: dict) -> dict:
    if not current_app.config["SHELL_ENABLED"]:
        raise ValidationError("the shell kind is switched off on this server", "kind")
    command = config.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ValidationError("a non-empty command is required", "config.command")
    if len(command) > 10_000 or "\x00" in command:
        raise ValidationError("must be under 10,000 characters, without NUL", "config.command")
    return {"command": command}


def _python_config(config: dict) -> dict:
    target = config.get("callable")
    problem = callable_problem(target, current_app.config["PYTHON_ALLOWED_MODULES"])
    if problem is not None:
        raise ValidationError(problem, "config.callable")
    module, name = target.split(":", 1)
    defined = defined_functions(module)
    if defined is None:
        raise ValidationError(f"module {module!r} cannot be found or read", "config.callable")
    if name not in defined:
        raise ValidationError(f"{name!r} is not a function defined in module {module!r}",
                              "config.callable")
    kwargs = config.get("kwargs", {})
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise ValidationError("must be an object", "config.kwargs")
    return {"callable": target, "kwargs": kwargs}


CONFIG_VALIDATORS: dict[str, Callable[[dict], dict]] = {
    "shell": _shell_config,
    "python": _python_config,
}


def _int(value: Any, field: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationError(f"must be a whole number from {low} to {high}", field)
    return value


def _retries(value: Any) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError("must be null or {\"max\": n, \"backoff\": [seconds, ...]}", "retries")
    maximum = _int(value.get("max"), "retries.max", 0, 10)
    backoff = value.get("backoff", [])
    if not isinstance(backoff, list) or len(backoff) > 10:
        raise ValidationError("must be a list of at most 10 delays in seconds", "retries.backoff")
    delays = [_int(b, "retries.backoff", 0, 86400) for b in backoff]
    return {"max": maximum, "backoff": delays}


def _notify(value: Any) -> dict | None:
    """A task's alert rules (design.md, "Alerts"): null, or channels by name (each must
    exist: the channels table is read here, in ``core``, so no upward import), the alert
    kinds, and the thresholds."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError("must be null or {\"channels\": [...], \"on\": [...], ...}", "notify")
    unknown = sorted(set(value) - set(NOTIFY_KEYS))
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]!r}", f"notify.{unknown[0]}")
    channels = value.get("channels", [])
    if not isinstance(channels, list) or len(channels) > 20 or not all(isinstance(c, str) for c in channels):
        raise ValidationError("must be a list of at most 20 channel names", "notify.channels")
    known = set(db.session.execute(select(Channel.name).where(Channel.name.in_(channels))).scalars())
    missing = [c for c in channels if c not in known]
    if missing:
        raise ValidationError(f"no channel named {missing[0][:80]!r}", "notify.channels")
    kinds = value.get("on", ["failure", "recovery"])
    if not isinstance(kinds, list) or not all(isinstance(k, str) and k in ALERT_KINDS for k in kinds):
        raise ValidationError(f"must be a list of {', '.join(ALERT_KINDS)}", "notify.on")
    max_runtime = value.get("max_runtime")
    return {
        "channels": list(dict.fromkeys(channels)),
        "on": [k for k in ALERT_KINDS if k in kinds],
        "after_failures": _int(value.get("after_failures", 1), "notify.after_failures", 1, 1000),
        "late_after": _int(value.get("late_after", 60), "notify.late_after", 0, MAX_TIMEOUT),
        "max_runtime": None if max_runtime is None
        else _int(max_runtime, "notify.max_runtime", 1, MAX_TIMEOUT),
    }


def slug(value: Any, field: str) -> str:
    """A queue name or a tag: ``[A-Za-z0-9_.-]{1,64}``, or a ValidationError on ``field``."""
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise ValidationError("must be 1 to 64 letters, digits, '_', '.' or '-'", field)
    return value


def _tags(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise ValidationError(f"must be a list of at most {MAX_TAGS} tags", "tags")
    tags = list(dict.fromkeys(slug(tag, "tags") for tag in value))
    return tags or None


def _then(value: Any) -> list[dict[str, str]] | None:
    """The shape of a chain list; which names exist, and cycles, are checked by
    :mod:`webapp.tasks.links` against the other tasks."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_THEN:
        raise ValidationError(f"must be a list of at most {MAX_THEN} {{\"task\", \"when\"}} entries", "then")
    out: list[dict[str, str]] = []
    for entry in value:
        if isinstance(entry, str):  # shorthand: a name alone means "when": "success"
            entry = {"task": entry}
        if not isinstance(entry, dict) or set(entry) - {"task", "when"}:
            raise ValidationError('each entry must be {"task": "<name>", "when": "success"|"failure"|"always"}', "then")
        name = entry.get("task")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ValidationError("must name a task", "then.task")
        when = entry.get("when", "success")
        if when not in CHAIN_WHEN:
            raise ValidationError(f"must be one of {', '.join(CHAIN_WHEN)}", "then.when")
        item = {"task": name.strip(), "when": when}
        if item not in out:
            out.append(item)
    return out or None


def clean_task(data: Any, existing: dict | None = None) -> dict[str, Any]:
    """Validate a create (``existing`` None) or a partial update of a task.

    Returns the full set of writable fields after the change.

    Raises:
        ValidationError: naming the first bad field.
    """
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object")
    unknown = sorted(set(data) - set(WRITABLE))
    if unknown:
        raise ValidationError(f"unknown or read-only field {unknown[0]!r}", unknown[0])
    for key, value in data.items():
        _storable(value, key)
    merged = dict(DEFAULTS) if existing is None else dict(existing)
    merged.update(data)
    for required in ("name", "kind", "config"):
        if required not in merged:
            raise ValidationError("is required", required)

    out: dict[str, Any] = {"name": _name(merged["name"])}
    if existing is not None and "kind" not in data and "config" not in data:
        # Kept as stored: a change that leaves them alone (enabling or disabling above
        # all) is accepted whatever they are, even if a switch now refuses them; the
        # run-time check (run_refusal) is what keeps such a task from running.
        out["kind"], out["config"] = merged["kind"], merged["config"]
    else:
        if merged["kind"] not in KINDS:
            raise ValidationError(f"must be one of {', '.join(KINDS)}", "kind")
        out["kind"] = merged["kind"]
        if not isinstance(merged["config"], dict):
            raise ValidationError("must be an object", "config")
        out["config"] = CONFIG_VALIDATORS[out["kind"]](merged["config"])
    description = merged["description"]
    if description is None:
        description = ""
    if not isinstance(description, str) or len(description) > 10_000:
        raise ValidationError("must be a string of at most 10,000 characters", "description")
    out["description"] = description
    zone(merged["timezone"])
    out["timezone"] = merged["timezone"]
    out["schedule"] = validate_schedule(merged["schedule"])
    changed = existing is None or existing.get("schedule") != out["schedule"]
    if changed and out["schedule"] and out["schedule"]["type"] == "once" \
            and parse_iso(out["schedule"]["at"]) <= utcnow():
        # It would never fire. Only a new schedule is checked: a task whose one fire is
        # behind it can still be edited.
        raise ValidationError("is in the past: a once schedule must be a future instant",
                              "schedule.at")
    if not isinstance(merged["enabled"], bool):
        raise ValidationError("must be true or false", "enabled")
    out["enabled"] = merged["enabled"]
    out["timeout"] = _int(merged["timeout"], "timeout", 1, MAX_TIMEOUT)
    out["retries"] = _retries(merged["retries"])
    if merged["overlap"] not in OVERLAP_POLICIES:
        raise ValidationError(f"must be one of {', '.join(OVERLAP_POLICIES)}", "overlap")
    out["overlap"] = merged["overlap"]
    if merged["misfire"] not in MISFIRE_POLICIES:
        raise ValidationError(f"must be one of {', '.join(MISFIRE_POLICIES)}", "misfire")
    out["misfire"] = merged["misfire"]
    out["notify"] = _notify(merged.get("notify"))
    out["params"] = clean_definitions(merged.get("params"), scheduled=out["schedule"] is not None)
    if existing is not None and "env" not in data:
        # Kept as stored (like kind and config above): enabling a task whose secret was
        # deleted since is accepted; its runs fail, naming the secret.
        out["env"] = merged.get("env")
    else:
        out["env"] = clean_env(merged.get("env"))
    queue = merged.get("queue")
    if existing is None and "queue" not in data or queue is None:
        queue = current_app.config["RQ_QUEUE"]
    out["queue"] = slug(queue, "queue")
    out["tags"] = _tags(merged.get("tags"))
    out["then"] = _then(merged.get("then"))
    return out
