"""The names the pages show, handed to them (body ``data-vocabulary``) so that the front
end defines none of its own: run statuses and triggers with their labels, and the task
defaults the dialog fills in."""
from __future__ import annotations

from typing import Any

from webapp.core.models import STATUSES, TASK_DEFAULTS, TRIGGERS


def for_pages() -> dict[str, Any]:
    """``{"statuses": {name: label}, "triggers": {name: label}, "task_defaults": {...}}``."""
    return {"statuses": {s: s.capitalize() for s in STATUSES},
            "triggers": {t: t.capitalize() for t in TRIGGERS},
            "task_defaults": dict(TASK_DEFAULTS)}
