"""The alerts' tables (webapp.alerts): channels and the outbox of notifications. Kept
apart from :mod:`webapp.core.models`, which re-exports them, so that each module stays
short."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.extensions import db
from webapp.core.timeutil import iso, utcnow


def masked_url(url: str) -> str:
    """``scheme://host/***``: what anyone may see of a channel URL. The host shows only
    when it names a machine (a dot or an IP): many Apprise schemes put a token where a
    host would be (``tgram://<bot token>/...``, ``discord://<webhook id>/...``)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme or "?", parts.hostname or ""
    except ValueError:
        return "?://***"
    if "." not in host and host != "localhost":
        host = "***"
    return f"{scheme}://{host}/***"


class Channel(db.Model):
    """Where alerts go: an Apprise URL. The URL is a secret: only :func:`to_dict`'s
    masked form (scheme and host) ever leaves the server."""

    __tablename__ = "taskpulse_channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True, nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    enabled: Mapped[bool] = mapped_column(nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        """The channel as the API, the CLI and the page show it (the URL masked)."""
        return {"id": self.id, "name": self.name, "url": masked_url(self.url),
                "enabled": self.enabled}


NOTIFICATION_STATUSES = ("pending", "sent", "failed")


class Notification(db.Model):
    """One alert in the outbox, from pending to sent or failed (webapp.alerts)."""

    __tablename__ = "taskpulse_notifications"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int | None] = mapped_column(Integer, index=True)
    run_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The same alert is written once whichever process notices it first: the key names
    # the alert (kind, task, run or due instant, channel) and the database refuses a twin.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # Over the channel's cap: not sent on its own, but in the summary row ``folded_into``.
    held: Mapped[bool] = mapped_column(nullable=False, default=False)
    folded_into: Mapped[int | None] = mapped_column(Integer)

    def to_dict(self) -> dict[str, Any]:
        """The row as ``GET /api/notifications`` and ``notification`` events show it."""
        return {"id": self.id, "task_id": self.task_id, "run_id": self.run_id,
                "channel": self.channel, "kind": self.kind, "title": self.title,
                "body": self.body, "status": self.status, "attempts": self.attempts,
                "error": self.error, "created_at": iso(self.created_at, millis=True),
                "sent_at": iso(self.sent_at, millis=True), "held": self.held,
                "folded_into": self.folded_into}
