"""Log lines of the web, worker and scheduler processes: ``plain`` (the default, as
before) or ``json`` (``TASKPULSE_LOG_FORMAT=json``: one JSON object per line, for a log
shipper), with ``run_id``, ``task_id`` and ``job_id`` wherever a run is concerned."""
from __future__ import annotations

import contextvars
import json
import logging
import os
from datetime import datetime, timezone
from typing import Any

FORMATS = ("plain", "json")
ENV = "TASKPULSE_LOG_FORMAT"
PLAIN = logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s", "%H:%M:%S")
# The run the code of this context works on (a worker's job), for lines that do not
# name it themselves.
_RUN: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("taskpulse_run", default=None)
RUN_FIELDS = ("run_id", "task_id", "job_id")


class LogFormatError(SystemExit):
    """TASKPULSE_LOG_FORMAT names no known format: the process stops at start."""


def log_format() -> str:
    """The configured format, checked.

    Raises:
        LogFormatError: an unknown value (a SystemExit with a sentence for the operator).
    """
    value = os.environ.get(ENV, "plain").strip().lower() or "plain"
    if value not in FORMATS:
        raise LogFormatError(f"Taskpulse will not start: {ENV} must be one of "
                             f"{', '.join(FORMATS)}, not {os.environ.get(ENV)!r}"[:300])
    return value


def bind_run(run_id: int, task_id: int | None = None, job_id: str | None = None) -> contextvars.Token:
    """Name this run in every line logged from this context until :func:`unbind_run`."""
    return _RUN.set({"run_id": run_id, "task_id": task_id, "job_id": job_id})


def unbind_run(token: contextvars.Token) -> None:
    """Undo :func:`bind_run`."""
    _RUN.reset(token)


class RunFields(logging.Filter):
    """Adds ``run_id``/``task_id``/``job_id`` to a record: from the bound run, else from
    a message that starts ``run %s`` (how Taskpulse's lines about a run begin)."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = _RUN.get() or {}
        for name in RUN_FIELDS:
            if getattr(record, name, None) is None and bound.get(name) is not None:
                setattr(record, name, bound[name])
        if getattr(record, "run_id", None) is None and isinstance(record.msg, str) \
                and record.msg.startswith("run %s") and isinstance(record.args, tuple) and record.args:
            record.run_id = record.args[0]
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO), level, logger, message, the run's
    fields when known, and the exception text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
            "process": record.process,
        }
        for name in RUN_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def handler(fmt: str | None = None) -> logging.Handler:
    """A stderr handler in the configured format, adding the run's fields."""
    out = logging.StreamHandler()
    out.setFormatter(JsonFormatter() if (fmt or log_format()) == "json" else PLAIN)
    out.addFilter(RunFields())
    return out


def configure(names: tuple[str, ...] = ("webapp", "worker"), fmt: str | None = None) -> None:
    """Give Taskpulse's loggers one handler in the configured format (once)."""
    out = handler(fmt)
    for name in names:
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(out)
            logger.setLevel(logging.INFO)
