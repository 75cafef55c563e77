"""Search through the output and error stored with finished runs
(``GET /api/runs/search``): runs whose ``TaskRun.output`` or ``TaskRun.error`` contains a
text, case-insensitively, newest first, each with the matching line as an excerpt.

On PostgreSQL the match is an ``ILIKE`` that the trigram indexes of migration 0008
(``pg_trgm`` GIN on ``output`` and on ``error``; ``webapp.core.schema.TRIGRAM_INDEXES``)
answer, after a walk through the newest runs (:func:`_newest_ids`); on SQLite it
is a plain scan, newest first, that stops at ``limit`` matches. LIKE's
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
FIRST_WINDOW = 2_000  # PostgreSQL: the newest runs read one by one before the index


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


def _match(pattern: str, escape: str | None, task_id: int | None, indexed: bool = True) -> Any:
    """The ids of runs whose output or error is ``ILIKE`` the pattern. ``indexed=False``
    writes the columns as ``col || ''`` so that PostgreSQL cannot use the trigram index."""
    output, error = (TaskRun.output, TaskRun.error) if indexed else \
        (TaskRun.output.concat(""), TaskRun.error.concat(""))
    query = select(TaskRun.id).where(or_(output.ilike(pattern, escape=escape),
                                         error.ilike(pattern, escape=escape)))
    return query if task_id is None else query.where(TaskRun.task_id == task_id)


def _newest_ids(pattern: str, task_id: int | None, limit: int) -> list[int]:
    """PostgreSQL: the ids of the newest ``limit`` matches. The newest
    :data:`FIRST_WINDOW` runs are read newest first (a common word is found there at
    once); the rest through the trigram index. One query over the whole table makes the
    planner choose between the index (every match, then sorted: 0.6 s for a word in
    every run of 100,000) and walking the runs (0.7 s for a rare word)."""
    top = db.session.scalar(select(func.max(TaskRun.id))) or 0
    recent = _match(pattern, None, task_id, indexed=False).where(TaskRun.id > top - FIRST_WINDOW)
    ids = list(db.session.scalars(recent.order_by(TaskRun.id.desc()).limit(limit)))
    if len(ids) < limit and top > FIRST_WINDOW:
        older = _match(pattern, None, task_id).where(TaskRun.id <= top - FIRST_WINDOW)
        ids += db.session.scalars(older.order_by(TaskRun.id.desc()).limit(limit - len(ids)))
    return ids


def search_runs(text: str, task_id: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Runs whose stored output or error contains ``text``, newest first, at most
    ``limit``: ``{"run_id", "task_id", "task_name", "status", "finished_at", "excerpt"}``."""
    dialect = db.engine.dialect.name
    pattern = like_pattern(text)
    # PostgreSQL's LIKE escapes with a backslash already; SQLite's has no escape unless told.
    escape = None if dialect == "postgresql" else "\\"
    if dialect == "postgresql":
        ids = _newest_ids(pattern, task_id, limit)
    else:
        matched = _match(pattern, escape, task_id).order_by(TaskRun.id.desc()).limit(limit)
        ids = list(db.session.scalars(matched))
    if not ids:
        return []
    columns = []
    for column in (TaskRun.output, TaskRun.error):
        position = _locate(dialect, column, text)
        first, window = _window(dialect, column, position, text)
        columns += [position, first, window, func.length(column)]
    rows = db.session.execute(
        select(TaskRun.id, TaskRun.task_id, Task.name, TaskRun.status, TaskRun.finished_at, *columns)
        .where(TaskRun.id.in_(ids)).join(Task, Task.id == TaskRun.task_id)
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
