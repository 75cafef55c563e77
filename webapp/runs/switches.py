"""What may run under this process's settings: the shell switch
(``TASKPULSE_SHELL_ENABLED``) and the python allow-list (``TASKPULSE_PYTHON_MODULES``).

Checked when a task is saved (:mod:`webapp.tasks.validation`), when a run is dispatched
and again when its job starts in a worker, whose settings may differ: switches hold at
run time, not only when a task is saved.
"""
from __future__ import annotations

import ast
import importlib.util
import re
from typing import Any

from flask import current_app

_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def callable_problem(target: Any, allowed: list[str]) -> str | None:
    """Why a python task's ``callable`` may not run, or None: it must be
    ``module:function`` in an allowed module, and the name public (no leading underscore,
    which refuses ``__dir__``, ``__class__`` and the like). Cheap: no import. The worker
    checks, when it imports the module, that the name is a function defined there."""
    if not isinstance(target, str) or not _CALLABLE.match(target):
        return "must look like 'module:function'"
    module, name = target.split(":", 1)
    if module not in allowed:
        return f"module {module!r} is not allowed (allowed: {', '.join(allowed) or 'none'})"
    if name.startswith("_"):
        return f"{name!r} is not a public function (names starting with '_' are refused)"
    return None


def defined_functions(module: str) -> set[str] | None:
    """Names of the functions a module's source defines at its top level (``def``), read
    without importing it into the web process; None when its source cannot be read.
    A name the module only imports (``from subprocess import run``) is not among them."""
    try:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return None
        with open(spec.origin, "rb") as source:
            tree = ast.parse(source.read(), spec.origin)
    except (ImportError, ValueError, OSError, SyntaxError):
        return None
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


SHELL_SWITCHED_OFF = "shell tasks are switched off"


def run_refusal(kind: str, config: Any) -> str | None:
    """Why a run of a task with this ``kind`` and ``config`` may not start under this
    process's settings, or None. Checked when a run is dispatched and again when its job
    starts in a worker (whose settings may differ): switches hold at run time, not only
    when a task is saved. The reason becomes the run's error."""
    if kind == "shell":
        return None if current_app.config["SHELL_ENABLED"] else SHELL_SWITCHED_OFF
    if kind == "python":
        target = config.get("callable") if isinstance(config, dict) else None
        problem = callable_problem(target, current_app.config["PYTHON_ALLOWED_MODULES"])
        return None if problem is None else f"python callable {target!r}: {problem}"
    return f"unknown job kind {kind!r}"
