"""Schedule validation and fire-time computation (cron, interval, once)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from .errors import ValidationError
from .timeutil import as_utc, parse_iso

CRON_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
MAX_INTERVAL = 366 * 24 * 3600


def zone(name: Any, field: str = "timezone") -> ZoneInfo:
    """The IANA zone called ``name``, or a ValidationError naming ``field``."""
    if not isinstance(name, str) or not name or len(name) > 64:
        raise ValidationError("must be an IANA time zone name such as Europe/London", field)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {name!r}", field) from None


def cron_expression(expr: Any, field: str = "schedule.expr") -> str:
    """A 5-field cron expression (aliases expanded), or a ValidationError."""
    if not isinstance(expr, str) or not expr.strip():
        raise ValidationError("cron expression required, e.g. '0 2 * * *'", field)
    text = CRON_ALIASES.get(expr.strip().lower(), expr.strip())
    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise ValidationError(f"invalid cron expression {expr!r} (5 fields expected)", field)
    return text


def validate_schedule(value: Any) -> dict | None:
    """Return the normalised schedule, or raise ValidationError naming the bad field."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError("must be null or an object with a type", "schedule")
    kind = value.get("type")
    if kind == "cron":
        cron_expression(value.get("expr"))
        return {"type": "cron", "expr": value["expr"].strip()}
    if kind == "interval":
        seconds = value.get("seconds")
        if not isinstance(seconds, int) or isinstance(seconds, bool) or not 1 <= seconds <= MAX_INTERVAL:
            raise ValidationError(f"must be a whole number of seconds from 1 to {MAX_INTERVAL}", "schedule.seconds")
        return {"type": "interval", "seconds": seconds}
    if kind == "once":
        at = value.get("at")
        if not isinstance(at, str):
            raise ValidationError("must be an ISO-8601 instant", "schedule.at")
        try:
            instant = parse_iso(at)
        except ValueError:
            raise ValidationError(f"invalid instant {at!r}", "schedule.at") from None
        return {"type": "once", "at": instant.isoformat().replace("+00:00", "Z")}
    raise ValidationError("type must be cron, interval or once", "schedule.type")


def next_fire(schedule: dict | None, timezone: str, after: datetime) -> datetime | None:
    """The first fire strictly after ``after`` (aware UTC), or None if none is due."""
    if not schedule:
        return None
    after = as_utc(after)  # type: ignore[assignment]
    if schedule["type"] == "interval":
        return after + timedelta(seconds=schedule["seconds"])
    if schedule["type"] == "once":
        at = parse_iso(schedule["at"])
        return at if at > after else None
    tz = ZoneInfo(timezone)
    expr = cron_expression(schedule["expr"])
    it = croniter(expr, after.astimezone(tz))
    return as_utc(it.get_next(datetime))


def preview(schedule: dict, timezone: str, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire instants after ``after``."""
    fires: list[datetime] = []
    cursor = after
    while len(fires) < count:
        nxt = next_fire(schedule, timezone, cursor)
        if nxt is None:
            break
        fires.append(nxt)
        cursor = nxt
    return fires
