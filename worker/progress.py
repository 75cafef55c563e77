"""Progress reporting from inside a job.

Python jobs call :func:`report_progress`::

    from worker.progress import report_progress

    def scan(hosts):
        for i, host in enumerate(hosts, 1):
            ...
            report_progress(100 * i / len(hosts), f"scanned {host}")

Shell jobs print a line on stdout: ``::progress 40 scanning host 3/7`` (a percentage,
optionally followed by ``%`` and a message). Such lines are progress, not output: they
are left out of the run's output, live and stored. The percentage has at most three
digits before the point and six after (above 100 counts as 100); any other line, such as
``::progress 99999999999999999999``, is ordinary output, never an error.

Either way the value reaches every page as a ``task_update`` with ``progress`` and
``progress_message``, throttled (see :mod:`worker.stream`).
"""
from __future__ import annotations

import logging
import math
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .stream import RunStream

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 200
# Bounded digits: a number too long to be a percentage is output, not progress (an
# unbounded one made float() overflow to inf and the job fail mid-command). The message
# is greedy to the end (no lazy group before a trailing-space run: no backtracking).
_PROGRESS_LINE = re.compile(r"^::progress[ \t]+([0-9]{1,3}(?:\.[0-9]{1,6})?)%?(?:[ \t]+(.*))?$")

_current: RunStream | None = None


def set_current_stream(stream: RunStream | None) -> None:
    """Set (or clear) the stream of the job this work horse is running."""
    global _current
    _current = stream


def clean(percent: float, message: str | None) -> tuple[int, str | None]:
    """A percentage as a whole number within 0-100, and a message of at most 200 characters
    (None when empty).

    Raises:
        ValueError: ``percent`` is not a finite number.
    """
    if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not math.isfinite(percent):
        raise ValueError(f"progress must be a number from 0 to 100, not {percent!r}")
    value = int(min(100.0, max(0.0, float(percent))))
    if message is not None:
        message = " ".join(str(message).split())[:MAX_MESSAGE_CHARS] or None
    return value, message


def parse_progress_line(line: str) -> tuple[int, str | None] | None:
    """``(percent, message)`` for a ``::progress N [message]`` line, else None (the line
    is then ordinary output). Never raises, whatever the command printed."""
    match = _PROGRESS_LINE.match(line)
    if match is None:
        return None
    try:
        return clean(float(match.group(1)), match.group(2))
    except (ValueError, OverflowError):  # cannot happen with the bounded pattern; stays output
        return None


def report_progress(percent: float, message: str | None = None) -> None:
    """Report the running job's progress (0-100) with an optional short message.

    Cheap to call often: values are throttled to 4 updates a second per run and the
    last one wins. Outside a Taskpulse job (a test, a shell) it only logs.

    Raises:
        ValueError: ``percent`` is not a number.
    """
    value, text = clean(percent, message)
    stream = _current
    if stream is None:
        log.debug("progress %s%% (%s): not inside a Taskpulse job", value, text)
        return
    stream.progress(value, text)
