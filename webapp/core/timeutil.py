"""UTC time helpers: every instant Taskpulse stores or sends is UTC."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """Return ``value`` as aware UTC; SQLite hands back naive datetimes that are UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def iso(value: datetime | None, millis: bool = False) -> str | None:
    """ISO-8601 UTC with a ``Z`` suffix, or None."""
    value = as_utc(value)
    if value is None:
        return None
    text = value.isoformat(timespec="milliseconds" if millis else "seconds")
    return text.replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 instant (``Z`` or an offset; naive means UTC) to aware UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return as_utc(value)  # type: ignore[return-value]
