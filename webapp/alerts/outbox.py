"""The outbox: every alert is a row, delivered by an RQ job (``worker.delivery``) after
its transaction commits, and sent live to room ``notifications`` as it changes.

A channel sends at most ``ALERT_CAP`` messages in ``ALERT_WINDOW`` seconds; a row over
the cap is ``held`` and, when the window ends, folded with the others into one summary.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.core.extensions import db
from webapp.core.models import Channel, Notification
from webapp.core.timeutil import as_utc, utcnow
from webapp.live import events
from webapp.live.names import NOTIFICATION, NOTIFICATIONS_ROOM
from webapp.runs import dispatch

log = logging.getLogger(__name__)


@dataclass
class Alert:
    """One alert to write, before it has a row."""

    kind: str
    title: str
    body: str
    task_id: int | None = None
    run_id: int | None = None
    key: str | None = None  # what makes it unique (with the channel); None: always new


def publish(row: Notification) -> None:
    """Send a committed row to room ``notifications`` as ``notification``."""
    events.emit(NOTIFICATION, row.to_dict(), NOTIFICATIONS_ROOM, about=f"notification {row.id}")


def add(alert: Alert, channel_names: list[str]) -> list[Notification]:
    """Write ``alert`` once per enabled channel named, commit each row, publish it and
    queue its delivery (or, over the channel's cap, hold it for the summary).

    A row whose key exists already (another process wrote the same alert) is skipped:
    the database's unique key is what makes several web processes send it once.
    """
    written = []
    for name in channel_names:
        channel = db.session.execute(
            select(Channel).where(Channel.name == name).with_for_update()).scalar()
        if channel is None or not channel.enabled:
            db.session.rollback()
            continue
        held, window_start = _over_cap(channel.name)
        row = Notification(task_id=alert.task_id, run_id=alert.run_id, channel=channel.name,
                           kind=alert.kind, title=alert.title[:300], body=alert.body,
                           status="pending", attempts=0, held=held,
                           dedupe_key=f"{alert.key}:{channel.id}"[:200] if alert.key else None)
        if held:
            row.error = "held: over the channel's limit; it goes out in the summary"
        db.session.add(row)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            log.info("alert %s on channel %s: already written", alert.key, name)
            continue
        publish(row)
        if held:
            window = current_app.config["ALERT_WINDOW"]
            ends = as_utc(window_start) + timedelta(seconds=window)
            window_id = int(as_utc(window_start).timestamp())
            dispatch.enqueue_summary(channel.id, window_id, (ends - utcnow()).total_seconds())
        else:
            dispatch.enqueue_delivery(row.id)
        written.append(row)
    return written


def _over_cap(channel: str) -> tuple[bool, Any]:
    """(whether a new message on ``channel`` is over its cap, when the oldest message
    counted in the window was written)."""
    cap = current_app.config["ALERT_CAP"]
    since = utcnow() - timedelta(seconds=current_app.config["ALERT_WINDOW"])
    counted = select(Notification.created_at).where(
        Notification.channel == channel, Notification.held.is_(False), Notification.created_at > since)
    times = list(db.session.execute(counted.order_by(Notification.created_at).limit(cap)).scalars())
    return len(times) >= cap, (times[0] if times else utcnow())


def claim(notification_id: int) -> tuple[Notification, str] | None:
    """The row and its channel's URL for a delivery attempt, or None when there is
    nothing to send (sent already, gone, or its channel deleted or switched off: then
    the row is marked failed with the reason)."""
    row = db.session.get(Notification, notification_id)
    if row is None or row.status != "pending" or row.held:
        db.session.rollback()
        return None
    channel = db.session.execute(select(Channel).where(Channel.name == row.channel)).scalar()
    if channel is None or not channel.enabled:
        finish(row, "the channel was deleted or switched off before delivery", final=True)
        return None
    return row, channel.url


def finish(row: Notification, error: str | None, *, final: bool, retry_in: float | None = None) -> None:
    """Record one delivery attempt: sent, or failed with ``error`` (``final``: no more
    tries; else it stays pending, saying when it is tried again). Commits and publishes."""
    row.attempts = (row.attempts or 0) + 1
    if error is None:
        row.status, row.error, row.sent_at = "sent", None, utcnow()
    elif final:
        row.status, row.error = "failed", error
    else:
        row.error = f"attempt {row.attempts} failed: {error}" + (
            f"; trying again in {retry_in:g} s" if retry_in is not None else "")
    folded = _folded(row.id)
    for held in folded:  # in the same transaction: a summary and what it stands for agree
        held.status, held.error, held.sent_at = row.status, row.error, row.sent_at
    db.session.commit()
    for changed in [row, *folded]:
        publish(changed)


def _folded(summary_id: int) -> list[Notification]:
    return list(db.session.execute(
        select(Notification).where(Notification.folded_into == summary_id)).scalars())


def pending_summary(channel_id: int) -> Notification | None:
    """The channel's summary row still waiting to be sent (a retry sends it again)."""
    channel = db.session.get(Channel, channel_id)
    if channel is None:
        return None
    return db.session.execute(select(Notification).where(
        Notification.channel == channel.name, Notification.kind == "summary",
        Notification.status == "pending").order_by(Notification.id).limit(1)).scalar()


def fold_summary(channel_id: int) -> Notification | None:
    """Fold every held row of a channel into one new summary row (committed, published,
    not yet sent), or None when nothing is held."""
    channel = db.session.get(Channel, channel_id)
    if channel is None:
        return None
    held = list(db.session.execute(
        select(Notification).where(Notification.channel == channel.name, Notification.held.is_(True),
                                   Notification.folded_into.is_(None), Notification.status == "pending")
        .order_by(Notification.id).with_for_update()).scalars())
    if not held:
        db.session.rollback()
        return None
    lines = [f"- {row.title}" for row in held[:50]]
    if len(held) > 50:
        lines.append(f"- ... and {len(held) - 50} more")
    summary = Notification(channel=channel.name, kind="summary", status="pending", attempts=0,
                           title=f"Taskpulse: {len(held)} more alerts on channel {channel.name}",
                           body="Held back by the channel's limit of "
                                f"{current_app.config['ALERT_CAP']} messages in "
                                f"{current_app.config['ALERT_WINDOW']:g} s:\n" + "\n".join(lines))
    db.session.add(summary)
    db.session.flush()
    for row in held:
        row.folded_into = summary.id
        row.error = f"held: folded into summary {summary.id}"
    db.session.commit()
    publish(summary)
    for row in held:
        publish(row)
    return summary


# A pending row this old with no delivery job in Redis was never queued (Redis was
# away when it was written): the watchdog queues it again.
STRANDED_AFTER = 30


def requeue_stranded(limit: int = 100) -> int:
    """Queue again the deliveries of pending rows whose job RQ does not hold (and the
    summaries of windows whose summary job is missing). Returns how many were queued."""
    now = utcnow()
    window = current_app.config["ALERT_WINDOW"]
    rows = list(db.session.execute(
        select(Notification.id, Notification.channel, Notification.held, Notification.created_at)
        .where(Notification.status == "pending", Notification.folded_into.is_(None),
               Notification.kind != "summary",
               Notification.created_at < now - timedelta(seconds=STRANDED_AFTER))
        .order_by(Notification.id).limit(limit)).all())
    channel_ids = dict(db.session.execute(select(Channel.name, Channel.id)).all())
    db.session.rollback()
    queued = 0
    for row_id, channel, held, created in rows:
        if held:
            # Held past its window's end with no summary sent: the summary job is gone.
            if channel in channel_ids and as_utc(created) + timedelta(seconds=window + STRANDED_AFTER) < now:
                queued += dispatch.enqueue_summary(channel_ids[channel], int(as_utc(created).timestamp()), 0)
        elif not dispatch.job_exists(f"notify-{row_id}"):
            log.warning("notification %s: its delivery was never queued; queueing it now", row_id)
            queued += dispatch.enqueue_delivery(row_id)
    return queued


def since(after: int, limit: int = 200) -> list[dict[str, Any]]:
    """Rows with an id above ``after``, oldest first (what a page missed)."""
    rows = db.session.execute(select(Notification).where(Notification.id > after)
                              .order_by(Notification.id).limit(limit)).scalars()
    return [row.to_dict() for row in rows]


def recent(limit: int = 200) -> list[dict[str, Any]]:
    """The newest rows, newest first."""
    rows = db.session.execute(select(Notification).order_by(Notification.id.desc()).limit(limit)).scalars()
    return [row.to_dict() for row in rows]


def head() -> int:
    """The highest row id (0 for an empty outbox)."""
    return int(db.session.execute(select(db.func.max(Notification.id))).scalar() or 0)
