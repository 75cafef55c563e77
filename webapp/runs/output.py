"""A run's live output: the lines it prints, kept in Redis while it runs, sent to room
``run:<id>`` as ``run_output``, and handed to late viewers in the ``subscribe`` ack.

Each line is ``{"n", "stream", "text"}``: ``n`` counts the run's lines from 1 (across
attempts, so a retried run keeps numbering), ``stream`` is ``stdout``, ``stderr`` or
``system`` (Taskpulse's own lines, such as "attempt 2 of 3"), ``text`` has no newline.

Why Redis and not the database: lines arrive at up to 10 batches a second per run, and
writing them to the database would put every line through the event log's write path
(SQLite has one writer). A capped Redis list (``LIVE_LINES`` entries, expiring
``LIVE_TTL`` after the last write) costs one pipelined round trip per batch, survives the
work horse (so a stopped or lost run still has its output), and is what a late viewer
reads. The database gets the output once, when the run ends (``TaskRun.output``, the
last ``OUTPUT_TAIL_BYTES``; ``TaskRun.output_lines`` is the number of the last line).
"""
from __future__ import annotations

import json
import logging
from typing import Any

from redis import Redis

from webapp.core.models import ACTIVE_STATUSES, TaskRun
from webapp.core.redis import redis_connection
from webapp.core.timeutil import iso, utcnow
from webapp.live import events
from webapp.live.names import RUN_OUTPUT, run_room

log = logging.getLogger(__name__)

LIVE_LINES = 2000          # lines kept in Redis per run
LIVE_TTL = 3600            # seconds the list lives after its last write
MAX_LINE_CHARS = 8192      # longer lines are split into several (see worker.kinds)
MAX_MESSAGE_LINES = 500    # bounds of one run_output message
MAX_MESSAGE_BYTES = 64 * 1024
CATCH_UP_LINES = 1000      # at most this many lines in a subscribe ack


def tail(text: str, limit: int) -> str:
    """The last ``limit`` bytes of ``text``, cut at a character boundary ("…" marks a cut)."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return "…" + data[-limit:].decode("utf-8", "ignore")


def output_key(run_id: int) -> str:
    """The Redis list of a run's live lines."""
    return f"taskpulse:output:{run_id}"


def _size(line: dict[str, Any]) -> int:
    return len(line["text"].encode("utf-8", "replace")) + 32


def last_fitting(lines: list[dict[str, Any]], max_lines: int = MAX_MESSAGE_LINES,
                 max_bytes: int = MAX_MESSAGE_BYTES) -> list[dict[str, Any]]:
    """The longest suffix of ``lines`` within the bounds of one message (at least one line)."""
    kept: list[dict[str, Any]] = []
    size = 0
    for line in reversed(lines):
        size += _size(line)
        if kept and (len(kept) >= max_lines or size > max_bytes):
            break
        kept.append(line)
    kept.reverse()
    return kept


def append(run_id: int, task_id: int, lines: list[dict[str, Any]],
           connection: Redis | None = None) -> dict[str, Any] | None:
    """Store ``lines`` (numbered, oldest first) and send them to room ``run:<id>``.

    Redis first, then the message: a viewer who joins between the two finds the lines
    in its ack and again live, and drops the repeats by ``n``; it can never miss them.
    When more lines came than one message carries, the message holds the newest and
    ``n`` jumps; the skipped lines are in Redis for a re-``subscribe`` with ``after``.
    Needs an app context. Returns the message sent (None when there was nothing to send).
    """
    if not lines:
        return None
    redis = connection or redis_connection()
    key = output_key(run_id)
    with redis.pipeline(transaction=False) as pipe:
        pipe.rpush(key, *[json.dumps(line, ensure_ascii=False, separators=(",", ":")) for line in lines])
        pipe.ltrim(key, -LIVE_LINES, -1)
        pipe.expire(key, LIVE_TTL)
        pipe.execute()
    message = {
        "run_id": run_id,
        "task_id": task_id,
        "lines": last_fitting(lines),
        "emitted_at": iso(utcnow(), millis=True),
    }
    # A failed send loses nothing: the lines are in Redis, and a viewer catches up on its
    # next subscribe.
    events.emit(RUN_OUTPUT, message, run_room(run_id), about=f"run {run_id}")
    return message


def live_lines(run_id: int, connection: Redis | None = None) -> list[dict[str, Any]]:
    """Every line Redis still holds for the run, oldest first."""
    redis = connection or redis_connection()
    lines = []
    for raw in redis.lrange(output_key(run_id), 0, -1):
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue
    return lines


def last_line_number(run_id: int, connection: Redis | None = None) -> int:
    """The ``n`` of the newest line in Redis (0 when there is none)."""
    redis = connection or redis_connection()
    raw = redis.lindex(output_key(run_id), -1)
    try:
        return int(json.loads(raw)["n"]) if raw else 0
    except (ValueError, KeyError, TypeError):
        return 0


def stored_output(run_id: int, tail_bytes: int,
                  connection: Redis | None = None) -> tuple[str | None, int | None]:
    """The run's output rebuilt from Redis, for a run that ended without its work horse
    reporting (stopped, lost): ``(text of stdout/stderr lines, last n)``, or
    ``(None, None)`` when Redis holds nothing."""
    try:
        lines = live_lines(run_id, connection)
    except Exception:  # Redis away: the run still ends, without its output
        log.warning("run %s: could not read its output from Redis", run_id)
        return None, None
    if not lines:
        return None, None
    text = "".join(line["text"] + "\n" for line in lines if line.get("stream") != "system")
    return tail(text, tail_bytes), int(lines[-1]["n"])


def _lines_from_text(text: str, last_n: int | None) -> list[dict[str, Any]]:
    """Numbered lines from a stored output (``stream`` is null: the text has lost it)."""
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    last = last_n if last_n and last_n >= len(parts) else len(parts)
    first = last - len(parts) + 1
    return [{"n": first + i, "stream": None, "text": part} for i, part in enumerate(parts)]


def catch_up(run: TaskRun, after: int | None, limit: int = CATCH_UP_LINES) -> dict[str, Any]:
    """The lines a viewer of room ``run:<id>`` has not seen: those with ``n > after``
    (all when ``after`` is None), the newest ``limit`` of them.

    Returns ``{"lines", "last", "truncated", "complete"}``: ``last`` is the highest line
    number known (0 when none), ``truncated`` says older lines after ``after`` exist but
    are not in ``lines`` (cut by ``limit``, or no longer kept), ``complete`` that the run
    has ended so no line will follow. Lines come from Redis while it holds them, else
    from the output stored with the run.
    """
    try:
        lines = live_lines(run.id)
    except Exception:
        log.warning("run %s: could not read its output from Redis", run.id)
        lines = []
    if not lines and run.output:
        lines = _lines_from_text(run.output, run.output_lines)
    last = int(lines[-1]["n"]) if lines else 0
    wanted = [line for line in lines if after is None or line["n"] > after]
    truncated = len(wanted) > limit
    wanted = wanted[-limit:] if truncated else wanted
    first_known = wanted[0]["n"] if wanted else last + 1
    expected_first = 1 if after is None else after + 1
    if first_known > expected_first and last >= expected_first:
        truncated = True
    return {"lines": wanted, "last": last, "truncated": truncated,
            "complete": run.status not in ACTIVE_STATUSES}
