"""Schedule validation and fire-time computation (cron, interval, once).

Daylight-saving rule for cron schedules (the task's IANA ``timezone``):

* A wall-clock time that does not exist that day (clocks spring forward over it) fires
  once, at the first instant after the gap: 02:30 in America/New_York on 2026-03-08 fires
  at 03:00 EDT (07:00Z); 01:30 in Europe/London on 2026-03-29 fires at 02:00 BST (01:00Z).
  Several times inside one gap (``*/15`` over the missing hour) merge into that one fire,
  which is also the fire of a time at the gap's end (03:00) if the expression has one.
* A wall-clock time that happens twice (clocks fall back over it) fires once, at its first
  occurrence: 01:30 in London on 2026-10-25 fires at 01:30 BST (00:30Z), not again at
  01:30 GMT. This holds for every field, so ``0 * * * *`` has no fire during the repeated
  hour and ``*/5 * * * *`` pauses for it; use an interval schedule for "every N minutes
  of elapsed time".

croniter 7.0.0, given an aware start, already does the first (it lands on 03:00/02:00)
but fires twice in the repeated hour. So croniter only walks the wall clock here (naive
datetimes, no zone), and :func:`wall_to_instant` applies the rule with ``zoneinfo``.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from webapp.core.errors import ValidationError
from webapp.core.timeutil import as_utc, parse_iso

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
# Longer expressions buy nothing a schedule needs, and croniter's cost grows with them
# (4,000 characters kept the eventlet hub busy for a second per preview).
MAX_CRON_CHARS = 200
UTC = timezone.utc
# A reference start for "does this expression ever fire?" (croniter looks 50 years ahead).
_PROBE_START = datetime(2000, 1, 1)
# After this many wall-clock candidates without a fire past ``after``, give up: only a
# start inside a repeated hour skips candidates, at most one per minute of that hour.
_MAX_SKIPPED_CANDIDATES = 10_000


def zone(name: Any, field: str = "timezone") -> ZoneInfo:
    """The IANA zone called ``name``, or a ValidationError naming ``field``."""
    if not isinstance(name, str) or not name or len(name) > 64:
        raise ValidationError("must be an IANA time zone name such as Europe/London", field)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as 'America'
        raise ValidationError(f"unknown time zone {name!r}", field) from None


def cron_expression(expr: Any, field: str = "schedule.expr") -> str:
    """A 5-field cron expression (aliases expanded) that fires at least once, or a
    ValidationError naming ``field``."""
    if not isinstance(expr, str) or not expr.strip():
        raise ValidationError("cron expression required, e.g. '0 2 * * *'", field)
    if len(expr) > MAX_CRON_CHARS:
        raise ValidationError(f"cron expression too long ({len(expr)} characters; at most {MAX_CRON_CHARS})",
                              field)
    text = CRON_ALIASES.get(expr.strip().lower(), expr.strip())
    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise ValidationError(f"invalid cron expression {expr!r} (5 fields expected)", field)
    try:
        croniter(text, _PROBE_START).get_next(datetime)
    except CroniterBadDateError:  # e.g. "0 0 30 2 *": valid syntax, no such day
        raise ValidationError(f"cron expression {expr!r} never fires", field) from None
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
        except (ValueError, OverflowError):
            raise ValidationError(f"invalid instant {at!r}", "schedule.at") from None
        return {"type": "once", "at": instant.isoformat().replace("+00:00", "Z")}
    raise ValidationError("type must be cron, interval or once", "schedule.type")


def wall_to_instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant at which the naive wall-clock time ``wall`` fires in ``tz``.

    An existing time gives its instant; a time that happens twice gives its first
    occurrence (``fold=0``); a time inside a spring-forward gap gives the instant the gap
    ends (the transition), the next valid instant.
    """
    instant = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == wall:
        return instant
    # In a gap, fold=0 reads ``wall`` with the offset before the change (landing after
    # the transition) and fold=1 with the offset after it (landing before).
    before = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return _transition_between(before, instant, tz)


def _transition_between(low: datetime, high: datetime, tz: ZoneInfo) -> datetime:
    """The first instant in (low, high] with ``high``'s UTC offset (to the second)."""
    target = high.astimezone(tz).utcoffset()
    while high - low > timedelta(seconds=1):
        mid = low + timedelta(seconds=(high - low).total_seconds() // 2)
        if mid.astimezone(tz).utcoffset() == target:
            high = mid
        else:
            low = mid
    return high


def _next_cron(expr: str, tz: ZoneInfo, after: datetime) -> datetime | None:
    """The first cron fire strictly after the aware instant ``after``, under the DST rule."""
    # Wall-clock instants are non-decreasing in wall-clock time under the rule, so no
    # fire after ``after`` can come from a wall time at or before ``after``'s own.
    walls = croniter(expr, after.astimezone(tz).replace(tzinfo=None))
    for _ in range(_MAX_SKIPPED_CANDIDATES):
        try:
            instant = wall_to_instant(walls.get_next(datetime), tz)
        except (CroniterBadDateError, OverflowError, ValueError):  # past year 9999
            return None
        if instant > after:
            return instant
    return None


def next_fire(schedule: dict | None, timezone: str, after: datetime) -> datetime | None:
    """The first fire strictly after ``after`` (aware UTC), or None if none is due."""
    if not schedule:
        return None
    after = as_utc(after)  # type: ignore[assignment]
    try:
        if schedule["type"] == "interval":
            return after + timedelta(seconds=schedule["seconds"])
        if schedule["type"] == "once":
            at = parse_iso(schedule["at"])
            return at if at > after else None
        return _next_cron(cron_expression(schedule["expr"]), ZoneInfo(timezone), after)
    except OverflowError:  # no fire before the end of time
        return None


def next_fire_in_series(schedule: dict | None, timezone: str, previous: datetime,
                        after: datetime) -> datetime | None:
    """The first fire strictly after ``after`` of the series that fired at ``previous``.

    Interval schedules keep their phase (``previous`` + k * seconds), so a late tick or
    a downtime does not make every later fire late; cron and once do not depend on it.
    """
    if schedule and schedule["type"] == "interval":
        previous, after = as_utc(previous), as_utc(after)  # type: ignore[assignment]
        step = schedule["seconds"]
        if after < previous:
            return previous
        periods = int((after - previous).total_seconds() // step) + 1
        try:
            return previous + timedelta(seconds=periods * step)
        except OverflowError:
            return None
    return next_fire(schedule, timezone, after)


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
