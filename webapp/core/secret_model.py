"""The secrets table (webapp.secrets): kept apart from :mod:`webapp.core.models`, which
re-exports it, so that each module stays short."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.extensions import db
from webapp.core.timeutil import iso, utcnow


class Secret(db.Model):
    """A named secret: ``value`` is a Fernet token (webapp.secrets.vault), never the
    plaintext; :func:`to_dict` has no value at all."""

    __tablename__ = "taskpulse_secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(80))

    def to_dict(self) -> dict[str, Any]:
        """The secret as the API, the CLI and the page show it: its name, never its value."""
        return {"name": self.name, "created_at": iso(self.created_at),
                "updated_at": iso(self.updated_at), "updated_by": self.updated_by}
