"""Search through the output and error stored with finished runs
(``GET /api/runs/search``): runs whose ``TaskRun.output`` or ``TaskRun.error`` contains a
text, case-insensitively, newest first, each with the matching line as an excerpt.

On PostgreSQL the match is an ``ILIKE`` that the trigram indexes of migration 0008
(``pg_trgm`` GIN on ``output`` and on ``error``; ``webapp.core.schema.TRIGRAM_INDEXES``) answer; on
SQLite it is a plain scan, newest first, that stops at ``limit`` matches. LIKE's
wildcards in the text are escaped: ``100%`` finds the literal ``100%``. The excerpt is
cut in SQL (a window of :data:`WINDOW` characters either side of the first match), so a
run's 1 MiB output never travels to Python whole.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, literal, or_, select

from webapp.core.extensions import db
from webapp.core.models import Task, TaskRun
from webapp.core.timeutil import iso

MAX_QUERY_CHARS = 200
MAX_LIMIT = 200
EXCERPT_CHARS = 200  # an excerpt is the matching line, cut to about this many characters
WINDOW = EXCERPT_CHARS  # characters read either side of the match


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's own characters (``%``, ``_`` and the escape ``\\``) escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def excerpt(window: str, match_at: int, length: int, cut_before: bool, cut_after: bool,
            limit: int = EXCERPT_CHARS) -> str:
    """The line of ``window`` holding the match at ``match_at`` (``length`` characters),
    cut to about ``limit`` characters around the match; "…" marks every cut, including
    ``cut_before``/``cut_after`` (the window itself starts or ends inside the text)."""
    match_at = max(0, min(match_at, len(window)))
    start = window.rfind("\n", 0, match_at) + 1
    end = window.find("\n", match_at + length)
    end = len(window) if end < 0 else end
    head = cut_before and start == 0
    tail = cut_after and end == len(window)
    line = window[start:end].rstrip("\r")
    at = match_at - start
    if len(line) > limit:
        first = max(0, min(at - (limit - length) // 2, len(line) - limit))
        head, tail = head or first > 0, tail or first + limit < len(line)
        line = line[first:first + limit]
    line = line.strip()
    return ("…" if head else "") + line + ("…" if tail else "")


def _locate(dialect: str, column: Any, text: str) -> Any:
    """The 1-based position of ``text`` in ``column``, case-insensitively (0: none)."""
    name = "strpos" if dialect == "postgresql" else "instr"
    return getattr(func, name)(func.lower(func.coalesce(column, "")), func.lower(literal(text)))


def _window(dialect: str, column: Any, position: Any, text: str) -> tuple[Any, Any]:
    """(first character read, the characters read): :data:`WINDOW` either side of the match."""
    larger = func.greatest if dialect == "postgresql" else func.max
    first = larger(position - WINDOW, 1)
    return first, func.substr(column, first, 2 * WINDOW + len(text))


def search_runs(text: str, task_id: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Runs whose stored output or error contains ``text``, newest first, at most
    ``limit``: ``{"run_id", "task_id", "task_name", "status", "finished_at", "excerpt"}``."""
    dialect = db.engine.dialect.name
    pattern = like_pattern(text)
    # PostgreSQL's LIKE escapes with a backslash already; SQLite's has no escape unless told.
    escape = None if dialect == "postgresql" else "\\"
    matched = select(TaskRun.id).where(or_(TaskRun.output.ilike(pattern, escape=escape),
                                           TaskRun.error.ilike(pattern, escape=escape)))
    if task_id is not None:
        matched = matched.where(TaskRun.task_id == task_id)
    # The newest matches first, then the excerpt work for those rows only.
    matched = matched.order_by(TaskRun.id.desc()).limit(limit).subquery()
    columns = []
    for column in (TaskRun.output, TaskRun.error):
        position = _locate(dialect, column, text)
        first, window = _window(dialect, column, position, text)
        columns += [position, first, window, func.length(column)]
    rows = db.session.execute(
        select(TaskRun.id, TaskRun.task_id, Task.name, TaskRun.status, TaskRun.finished_at, *columns)
        .join(matched, matched.c.id == TaskRun.id).join(Task, Task.id == TaskRun.task_id)
        .order_by(TaskRun.id.desc())
    ).all()
    return [_hit(row, text) for row in rows]


def _hit(row: Any, text: str) -> dict[str, Any]:
    run_id, task_id, task_name, status, finished_at, *found = row
    # The output's match when it has one, else the error's; a match the database's
    # case folding found but lower() did not place (rare letters) shows the window's start.
    out, err = found[:4], found[4:]
    position, first, window, length = out if out[0] else err if err[0] else out if out[2] else err
    window = window or ""
    at = position - first if position else window.lower().find(text.lower())
    shown = excerpt(window, max(at, 0), len(text), cut_before=bool(first and first > 1),
                    cut_after=bool(length and (first or 1) - 1 + len(window) < length))
    return {"run_id": run_id, "task_id": task_id, "task_name": task_name, "status": status,
            "finished_at": iso(finished_at), "excerpt": shown}
