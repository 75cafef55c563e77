"""Reading a user's crontab (``crontab -l``: five time fields then the command; no user
column as in /etc/crontab) as a set of shell tasks for :mod:`webapp.tasks.sync`.

* A job line is ``m h dom mon dow command`` or ``@hourly|@daily|@midnight|@weekly|
  @monthly|@yearly|@annually command``; the expression is checked as a task's schedule
  is (:func:`webapp.scheduling.cron.cron_expression`). ``@reboot`` has no schedule
  here: the line is refused.
* Comments (``#``), blank lines and environment lines (``NAME=value``: ``MAILTO``,
  ``SHELL``, ``PATH``, ...) are skipped and reported with their line numbers;
  ``CRON_TZ=<zone>`` sets the timezone of the lines after it (the task's ``timezone``).
* ``%``: cron turns an unescaped ``%`` into a newline and sends what follows as the
  command's input. Taskpulse gives a command no input, so a line with an unescaped ``%``
  is refused (naming the line); ``\\%`` becomes a literal ``%`` in the command.
* Names: ``cron-`` and a slug of the command (lower-case letters and digits, runs of
  anything else as ``-``, at most :data:`SLUG_CHARS` characters); a second line with the
  same slug gets ``-2``, a third ``-3``, in file order (the next free counter). Importing the same crontab again
  gives the same names, so it updates those tasks (or leaves them unchanged).

Any refused line: nothing is imported; every refused line is reported.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from webapp.core.errors import ValidationError
from webapp.scheduling.cron import CRON_ALIASES, cron_expression, zone

SLUG_CHARS = 48
MAX_LINES = 1000
DESCRIPTION = "imported from a crontab"
_ENV_LINE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\s*=")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_UNESCAPED_PERCENT = re.compile(r"(?<!\\)%")


@dataclass
class Crontab:
    """A crontab read: the task specs (with their line numbers), what was skipped, and
    the refused lines (``(line, message)``)."""

    tasks: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


def slug(command: str) -> str:
    """The name stem of a command: ``/usr/bin/backup.sh --full`` -> ``usr-bin-backup-sh-full``."""
    text = _NOT_SLUG.sub("-", command.lower()).strip("-")
    return text[:SLUG_CHARS].rstrip("-") or "command"


def _job(line: str) -> tuple[str, str]:
    """``(expression, command)`` of a job line, or ValueError with the reason."""
    if line.startswith("@"):
        word, command = (line.split(None, 1) + [""])[:2]
        if word.lower() == "@reboot":
            raise ValueError("@reboot has no schedule in Taskpulse (run the command from a "
                             "systemd unit or an init script instead)")
        if word.lower() not in CRON_ALIASES:
            raise ValueError(f"unknown schedule {word[:20]!r} (use one of {', '.join(CRON_ALIASES)} "
                             "or five fields)")
        if not command.strip():
            raise ValueError(f"{word} is not followed by a command")
        return word.lower(), command.strip()
    parts = line.split(None, 5)
    if len(parts) < 6:
        raise ValueError(f"too few fields ({len(parts)}): a crontab line needs 5 time fields (minute "
                         "hour day month weekday) then the command")
    return " ".join(parts[:5]), parts[5].strip()


def parse(text: str, timezone: str = "UTC") -> Crontab:
    """Read a crontab. ``timezone`` is the tasks' timezone until a ``CRON_TZ=`` line."""
    out = Crontab()
    zone(timezone)
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        out.errors.append((MAX_LINES + 1, f"too many lines (at most {MAX_LINES})"))
        return out
    used: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            out.skipped.append((number, "blank line"))
            continue
        if line.startswith("#"):
            out.skipped.append((number, "comment"))
            continue
        if _ENV_LINE.match(line):
            name, _, value = line.partition("=")
            name, value = name.strip(), value.strip().strip("'\"")
            if name == "CRON_TZ":
                try:
                    zone(value)
                except ValidationError:
                    out.errors.append((number, f"CRON_TZ: unknown timezone {value[:64]!r}"))
                    continue
                timezone = value
                out.skipped.append((number, f"CRON_TZ={value}: the timezone of the lines after it"))
            else:
                out.skipped.append((number, f"environment line {name} (not imported)"))
            continue
        try:
            expr, command = _job(line)
            cron_expression(expr, f"line {number}")
        except ValueError as exc:
            out.errors.append((number, str(exc)))
            continue
        except ValidationError as exc:
            out.errors.append((number, exc.message))
            continue
        if _UNESCAPED_PERCENT.search(command):
            out.errors.append((number, "an unescaped % (cron's input separator) is not supported; "
                               "write \\% for a literal %"))
            continue
        command = command.replace("\\%", "%")
        stem = "cron-" + slug(command)
        name, counter = stem, 1
        while name in used:  # a later line with the same stem (or one that ends in -2)
            counter += 1
            name = f"{stem}-{counter}"
        used.add(name)
        out.tasks.append({"name": name, "kind": "shell", "config": {"command": command},
                          "description": DESCRIPTION,
                          "schedule": {"type": "cron", "expr": expr}, "timezone": timezone})
        out.lines.append(number)
    return out
