"""Changing the concurrency limits: the setting, its audit entry, the live
``concurrency`` event, and the runs a raised limit lets go (the API and the CLI both
come here)."""
from __future__ import annotations

from typing import Any

from webapp.access import audit
from webapp.core.extensions import db
from webapp.live import events
from webapp.live.names import ALL_TASKS_ROOM, CONCURRENCY
from webapp.runs import groups
from webapp.runs.release import release_held


def set_limits(value: Any, actor: str) -> dict[str, int]:
    """Replace every limit with ``value`` (``{"<tag>": n}``; ``{}`` lifts all), audited
    as ``actor``; returns the limits now.

    Raises:
        ValidationError: naming ``concurrency.<tag>``.
    """
    wanted = groups.clean_limits(value)
    before = groups.limits()
    if wanted == before:
        db.session.rollback()
        return wanted
    groups.store_limits(wanted)
    entry = audit.record(actor, "update", "setting", None, groups.SETTING,
                         {"concurrency": [before, wanted]})
    db.session.commit()
    audit.publish(entry)
    publish(wanted)
    release_held()  # a raised limit frees slots now
    return wanted


def set_limit(tag: str, limit: int | None, actor: str) -> dict[str, int]:
    """Set one tag's limit (None: remove it), keeping the others."""
    current = groups.limits()
    if limit is None:
        current.pop(tag, None)
    else:
        current[tag] = limit
    return set_limits(current, actor)


def publish(limits: dict[str, int]) -> None:
    """Tell every page the limits (room ``tasks``)."""
    events.emit(CONCURRENCY, {"concurrency": limits}, ALL_TASKS_ROOM, about="concurrency limits")


def status() -> dict[str, Any]:
    """The limits and the slots in use per limited tag, as the API answers them."""
    limits = groups.limits()
    used = groups.in_use(sorted(limits)) if limits else {}
    db.session.rollback()
    return {"concurrency": limits, "in_use": used}
