"""Alert deliveries: the RQ jobs of queue ``taskpulse-alerts`` (enqueued by
``webapp.runs.dispatch``). Each sends one outbox row through Apprise, records the
attempt, and raises while RQ has retries left so it is tried again after a backoff;
the last failure marks the row ``failed`` with the reason."""
from __future__ import annotations

import logging

from rq.job import get_current_job

from webapp.alerts import channels, outbox
from webapp.core.extensions import db
from webapp.core.models import Channel

from .context import app_context

log = logging.getLogger(__name__)


class DeliveryRefused(RuntimeError):
    """One attempt failed; RQ retries the job (the reason is in the row already)."""


def deliver(notification_id: int) -> str:
    """Send outbox row ``notification_id``; ``"sent"``, ``"failed"`` or ``"skipped"``."""
    with app_context():
        db.engine.dispose(close=False)  # a forked work horse must not share pooled connections
        claimed = outbox.claim(notification_id)
        if claimed is None:
            return "skipped"
        row, url = claimed
        error = channels.send(url, row.title, row.body)
        return _record(row, error, f"notification {notification_id}")


def _record(row, error: str | None, about: str) -> str:
    """Record one attempt on ``row``; raise while RQ has retries left so it tries again."""
    job = get_current_job()
    retries_left = int(getattr(job, "retries_left", 0) or 0) if job is not None else 0
    if error is None:
        outbox.finish(row, None, final=True)
        log.info("%s: sent to channel %s", about, row.channel)
        return "sent"
    retry_in = _next_delay(job) if retries_left else None
    outbox.finish(row, error, final=not retries_left, retry_in=retry_in)
    log.warning("%s: channel %s refused (%s)%s", about, row.channel,
                error, "; retrying" if retries_left else "; giving up")
    if retries_left:
        raise DeliveryRefused(error)
    return "failed"


def _next_delay(job) -> float | None:
    intervals = list(getattr(job, "retry_intervals", None) or [])
    if not intervals:
        return None
    done = int(getattr(job, "retries_left", 0) or 0)
    index = max(0, len(intervals) - done)
    return float(intervals[min(index, len(intervals) - 1)])


def send_summary(channel_id: int, window_id: int) -> str:
    """At the end of a channel's window: fold what was held over its cap into one
    summary row and send it, retried like a delivery (a retry sends the summary
    already folded; ``window_id`` only names the job)."""
    with app_context():
        db.engine.dispose(close=False)
        summary = outbox.pending_summary(channel_id) or outbox.fold_summary(channel_id)
        if summary is None:
            return "nothing held"
        channel = db.session.get(Channel, channel_id)
        error = channels.send(channel.url, summary.title, summary.body)
        return _record(summary, error, f"summary {summary.id}")
