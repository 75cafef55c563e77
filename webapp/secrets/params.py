"""A task's typed parameters: their definitions (checked when the task is saved), the
values a run is given (checked before anything is queued: Run Now, the API, the CLI;
scheduled runs take the defaults), and how a run shows them (secret ones as ``***``).

A definition is ``{"name", "type", "default", "choices", "required", "secret"}``; a
run's values are ``{name: value}``. A shell job gets each as ``PARAM_<NAME>`` in its
environment, a python job as a keyword argument (:func:`env_text`, worker side).
"""
from __future__ import annotations

import math
import re
from typing import Any

from webapp.core.errors import ValidationError

TYPES = ("string", "integer", "number", "boolean", "choice")
KEYS = ("name", "type", "default", "choices", "required", "secret")
# A name is both an environment variable's tail and a python keyword argument.
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_PARAMS = 20
MAX_CHOICES = 50
MAX_CHOICE_CHARS = 200
MAX_VALUE_CHARS = 4096
MAX_INTEGER = 2**53  # what a browser's JSON keeps exactly
MASK = "***"


def _field(index: int | str, key: str | None = None) -> str:
    return f"params.{index}" + (f".{key}" if key else "")


def _text(value: Any, field: str, limit: int = MAX_VALUE_CHARS) -> str:
    if not isinstance(value, str):
        raise ValidationError("must be a string", field)
    if len(value) > limit or "\x00" in value:
        raise ValidationError(f"must be at most {limit} characters, without NUL", field)
    return value


def coerce(definition: dict[str, Any], value: Any, field: str) -> Any:
    """``value`` as a value of ``definition``'s type (JSON types: no strings for
    numbers), else ValidationError naming ``field``."""
    kind = definition["type"]
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValidationError("must be true or false", field)
        return value
    if kind == "integer":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or abs(value) > MAX_INTEGER:
            raise ValidationError("must be a whole number", field)
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or abs(value) > 1e300:
            raise ValidationError("must be a number", field)
        return value
    text = _text(value, field)
    if kind == "choice" and text not in definition["choices"]:
        raise ValidationError(f"must be one of {', '.join(definition['choices'])[:300]}", field)
    return text


def from_text(definition: dict[str, Any], text: str, field: str) -> Any:
    """A value typed on a command line (``--param k=v``), as its parameter's type."""
    kind = definition["type"]
    if kind == "boolean":
        folded = text.strip().lower()
        if folded in ("true", "1", "yes", "on"):
            return True
        if folded in ("false", "0", "no", "off"):
            return False
        raise ValidationError("must be true or false", field)
    if kind in ("integer", "number"):
        try:
            number = int(text) if kind == "integer" else float(text)
        except ValueError:
            raise ValidationError("must be a whole number" if kind == "integer" else "must be a number",
                                  field) from None
        return coerce(definition, number, field)
    return coerce(definition, text, field)


def _definition(index: int, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValidationError("must be an object {\"name\", \"type\", ...}", _field(index))
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise ValidationError(f"unknown field {unknown[0][:40]!r}", _field(index, unknown[0][:40]))
    name = raw.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValidationError("a parameter name is a letter or _ then up to 63 letters, digits "
                              "or _", _field(index, "name"))
    kind = raw.get("type", "string")
    if kind not in TYPES:
        raise ValidationError(f"must be one of {', '.join(TYPES)}", _field(name, "type"))
    out: dict[str, Any] = {"name": name, "type": kind, "default": None, "choices": None}
    for flag in ("required", "secret"):
        value = raw.get(flag, False)
        if not isinstance(value, bool):
            raise ValidationError("must be true or false", _field(name, flag))
        out[flag] = value
    choices = raw.get("choices")
    if kind == "choice":
        if not isinstance(choices, list) or not 1 <= len(choices) <= MAX_CHOICES:
            raise ValidationError(f"a choice needs a list of 1 to {MAX_CHOICES} choices",
                                  _field(name, "choices"))
        out["choices"] = list(dict.fromkeys(
            _text(c, _field(name, "choices"), MAX_CHOICE_CHARS) for c in choices))
    elif choices is not None:
        raise ValidationError("only a choice parameter has choices", _field(name, "choices"))
    if raw.get("default") is not None:
        if out["secret"]:
            # A default is part of the task, which every viewer reads: a secret one would
            # be shown to all. A value that must be kept is a secret, given through env.
            raise ValidationError("a secret parameter cannot have a default (use the task's env "
                                  "with a secret reference)", _field(name, "default"))
        out["default"] = coerce(out, raw["default"], _field(name, "default"))
    return out


def clean_definitions(value: Any, scheduled: bool = False) -> list[dict[str, Any]] | None:
    """A task's ``params`` field: null or a list of definitions (names unique, even
    ignoring case, since ``PARAM_<NAME>`` is upper case). On a ``scheduled`` task a
    required parameter needs a default: scheduled runs use the defaults.

    Raises:
        ValidationError: naming the parameter (``params.<name>.<key>``).
    """
    if value is None or value == []:
        return None
    if not isinstance(value, list) or len(value) > MAX_PARAMS:
        raise ValidationError(f"must be null or a list of at most {MAX_PARAMS} parameters", "params")
    out, seen = [], set()
    for index, raw in enumerate(value):
        definition = _definition(index, raw)
        if definition["name"].upper() in seen:
            raise ValidationError("two parameters have this name", _field(definition["name"], "name"))
        seen.add(definition["name"].upper())
        if scheduled and definition["required"] and definition["default"] is None:
            raise ValidationError("a required parameter of a scheduled task needs a default "
                                  "(scheduled runs use the defaults)", _field(definition["name"], "default"))
        out.append(definition)
    return out


def clean_values(definitions: list[dict[str, Any]] | None, given: Any) -> dict[str, Any]:
    """A run's values: ``given`` (``{name: value}``; null values count as not given)
    checked against the definitions, with the defaults filled in. A parameter with
    neither a value nor a default is left out (or refused when required).

    Raises:
        ValidationError: field ``params.<name>``: unknown, wrong type, outside its
            choices, or required and missing.
    """
    definitions = definitions or []
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ValidationError("must be an object {\"name\": value, ...}", "params")
    known = {d["name"]: d for d in definitions}
    for name in given:
        if name not in known:
            raise ValidationError(f"this task has no parameter {str(name)[:64]!r}", f"params.{str(name)[:64]}")
    values: dict[str, Any] = {}
    for definition in definitions:
        name = definition["name"]
        raw = given.get(name)
        if raw is None:
            raw = definition["default"]
        if raw is None:
            if definition["required"]:
                raise ValidationError("is required", f"params.{name}")
            continue
        values[name] = coerce(definition, raw, f"params.{name}")
    return values


def default_values(definitions: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The values a scheduled run takes: every default (None when there is none)."""
    values = {d["name"]: d["default"] for d in definitions or [] if d["default"] is not None}
    return values or None


def split(definitions: list[dict[str, Any]] | None, values: dict[str, Any]) -> tuple[dict, dict]:
    """``(shown, secret)``: the values as a run shows them (secret ones ``***``), and the
    secret ones alone (to be sealed)."""
    secret_names = {d["name"] for d in definitions or [] if d["secret"]}
    shown = {k: MASK if k in secret_names else v for k, v in values.items()}
    return shown, {k: v for k, v in values.items() if k in secret_names}


def env_text(value: Any) -> str:
    """How a value reads in ``PARAM_<NAME>``: ``true``/``false``, numbers as JSON has them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def env_name(name: str) -> str:
    """The environment variable a parameter becomes."""
    return f"PARAM_{name.upper()}"
