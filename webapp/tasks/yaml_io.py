"""Tasks as YAML: the file ``tasks export`` writes and ``tasks import`` reads.

The file is a YAML list, one mapping per task, tasks sorted by name. A task's keys come
in the fixed order of :data:`EXPORT_FIELDS`; a field equal to its default (``DEFAULTS``,
the queue the server's ``TASKPULSE_QUEUE`` names) is left out, always, so a file only
says what differs. Mappings inside a task (``config``, ``schedule``, ``notify``, ...)
put their known keys in :data:`KEY_ORDER` order and any others (env variables, kwargs)
after them by name. Multi-line strings are written as ``|`` blocks. There is no
timestamp: exporting twice gives the same bytes, and a file written this way is exported
back byte for byte.

Reading is hostile-input safe: ``yaml.SafeLoader`` (no Python objects), no anchors or
aliases (an alias "bomb" cannot expand), no explicit tags (``!!binary``, ``!!python/...``),
dates stay strings, only ``true``/``false`` are booleans (YAML 1.2: ``on`` and ``yes``
are strings), at most :data:`MAX_NODES` nodes nested at most :data:`MAX_DEPTH`
deep and :data:`MAX_TASKS` tasks, keys must be strings and unique within a mapping.
"""
from __future__ import annotations

import json
import re
from typing import Any

import yaml
from flask import current_app

from webapp.core.errors import ValidationError
from webapp.tasks.validation import DEFAULTS, WRITABLE

MAX_TASKS = 1000
MAX_NODES = 100_000
MAX_DEPTH = 32
HEADER = ("# Taskpulse tasks: a YAML list, one mapping per task (README, \"Tasks as code\").\n"
          "# flask --app wsgi tasks import FILE --dry-run shows what importing it would change.\n")
# The task's fields in the order a file writes them: identity, what runs and when, where
# and after what, then the finer settings.
EXPORT_FIELDS = (
    "name", "kind", "config", "description", "schedule", "timezone", "enabled",
    "queue", "tags", "then", "timeout", "retries", "overlap", "misfire", "notify",
    "params", "env",
)
KEY_ORDER = (
    "name", "type", "task", "when", "command", "callable", "kwargs", "expr", "seconds", "at",
    "max", "backoff", "channels", "on", "after_failures", "late_after", "max_runtime",
    "default", "choices", "required", "secret",
)
_RANK = {key: rank for rank, key in enumerate(KEY_ORDER)}
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_BOOL = "tag:yaml.org,2002:bool"
_NON_SPECIFIC = (None, "!")

# A writable field not (yet) given its place above is written after the others, never
# dropped (tests/unit/test_tasks_as_code.py asserts every field has its place).
_FIELD_ORDER = EXPORT_FIELDS + tuple(key for key in WRITABLE if key not in EXPORT_FIELDS)


def defaults() -> dict[str, Any]:
    """What a task in a file is when it leaves a field out (the create defaults)."""
    return {**DEFAULTS, "queue": current_app.config["RQ_QUEUE"]}


def _is_default(key: str, value: Any, default: dict[str, Any]) -> bool:
    if key in ("tags", "then") and not value:
        return True
    return key in default and same_json(value, default[key])


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON (``1`` is not ``true``, ``1.0`` is not ``1``)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _ordered(value: Any) -> Any:
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (_RANK.get(k, len(_RANK)), k))
        return {key: _ordered(value[key]) for key in keys}
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    return value


def task_document(fields: dict[str, Any], default: dict[str, Any] | None = None) -> dict[str, Any]:
    """One task's mapping as a file writes it, from its writable fields."""
    default = defaults() if default is None else default
    return {key: _ordered(fields[key]) for key in _FIELD_ORDER
            if key in fields and (key in ("name", "kind", "config") or not _is_default(key, fields[key], default))}


class _Dumper(yaml.SafeDumper):
    """Block style; multi-line strings as ``|`` blocks; nothing folded."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def dump(tasks: list[dict[str, Any]]) -> str:
    """The YAML text of these tasks (each a dict of writable fields), sorted by name."""
    default = defaults()
    documents = [task_document(t, default) for t in sorted(tasks, key=lambda t: t["name"])]
    body = yaml.dump(documents, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=1_000_000)
    return HEADER + body


class _Loader(yaml.SafeLoader):
    """SafeLoader with limits, no aliases, no explicit tags, no timestamps, no
    duplicate or non-string keys."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_TIMESTAMP, _BOOL)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nodes = 0
        self._depth = 0
        self.task_index: int | None = None  # the task being read, for the error message
        self.task_field: str | None = None

    def _refuse(self, message: str, mark: Any) -> None:
        raise yaml.MarkedYAMLError(problem=message, problem_mark=mark)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        self._depth += 1
        try:
            if self._depth == 2 and isinstance(index, int):  # an item of the list: a task
                self.task_index, self.task_field = index, None
            elif self._depth == 3 and isinstance(index, yaml.ScalarNode):  # a task's field
                self.task_field = index.value[:64]
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                self._refuse("anchors and aliases (&, *) are not accepted", event.start_mark)
            if getattr(event, "tag", None) not in _NON_SPECIFIC:
                self._refuse(f"explicit tags ({event.tag}) are not accepted", event.start_mark)
            self._nodes += 1
            if self._nodes > MAX_NODES:
                self._refuse(f"too many values (more than {MAX_NODES})", event.start_mark)
            if self._depth > MAX_DEPTH:
                self._refuse(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> dict:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                self._refuse("keys must be strings (quote a key such as 1, null or true)",
                             key_node.start_mark)
            if key_node.value in seen:
                self._refuse(f"duplicate key {key_node.value[:64]!r}", key_node.start_mark)
            seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


# YAML 1.2 booleans only: in YAML 1.1 ``on``, ``yes`` and ``off`` are booleans, and
# notify's key ``on`` would not be a string.
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return problem
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"


def load(text: str) -> list[Any]:
    """The list of task mappings in ``text`` (each still to be validated).

    Raises:
        ValidationError: on field ``body``: not YAML, not a list, too big, or a refused
            construct, with its line and column.
    """
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except (yaml.YAMLError, RecursionError) as exc:
        problem = _where(exc) if isinstance(exc, yaml.YAMLError) else f"nested deeper than {MAX_DEPTH} levels"
        where = "" if loader.task_index is None else f"task at index {loader.task_index}: "
        raise ValidationError(f"not a valid tasks file: {where}{problem}"[:500],
                              loader.task_field or "body") from None
    finally:
        loader.dispose()
    if data is None:
        raise ValidationError("the file is empty: give a list of tasks ([] for none)", "body")
    if not isinstance(data, list):
        raise ValidationError("must be a YAML list of tasks (- name: ...), not a "
                              f"{type(data).__name__}", "body")
    if len(data) > MAX_TASKS:
        raise ValidationError(f"too many tasks ({len(data)}; at most {MAX_TASKS})", "body")
    return data
