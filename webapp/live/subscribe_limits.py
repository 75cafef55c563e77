"""What one connection's ``subscribe`` may cost the server: how often it may ask, and
how large an acknowledgement may grow.

A stranger with a viewer's token can subscribe in a loop, or to a run whose lines are
long; without bounds each ack could be megabytes and each subscribe a replay query.
An ack past the size bound carries what fits, in order, with ``truncated: true``: the
client asks again from the last item it got (a seq, an audit entry id, a line number).
"""
from __future__ import annotations

import json
import time
from collections.abc import MutableMapping
from typing import Any

ACK_MAX_BYTES = 256 * 1024
SUBSCRIBES_PER_WINDOW = 20
SUBSCRIBE_WINDOW_SECONDS = 10.0
_TIMES_KEY = "subscribe_times"


def json_size(value: Any) -> int:
    """Bytes of ``value`` as JSON on the wire (about: Socket.IO adds a few)."""
    return len(json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False).encode("utf-8"))


def rate_limited(session: MutableMapping[str, Any], now: float | None = None) -> str | None:
    """Count one subscribe of this connection (``session`` is its server-side session).

    Returns None when it may go ahead, else the refusal's reason.
    """
    now = time.monotonic() if now is None else now
    recent = [t for t in session.get(_TIMES_KEY, ()) if now - t < SUBSCRIBE_WINDOW_SECONDS]
    if len(recent) >= SUBSCRIBES_PER_WINDOW:
        session[_TIMES_KEY] = recent
        wait = SUBSCRIBE_WINDOW_SECONDS - (now - recent[0])
        return (f"rate limited: at most {SUBSCRIBES_PER_WINDOW} subscribes per "
                f"{SUBSCRIBE_WINDOW_SECONDS:g} s on one connection; try again in {wait:.1f} s")
    recent.append(now)
    session[_TIMES_KEY] = recent
    return None


def fit_items(ack: dict[str, Any], key: str, keep: str = "oldest",
              holder: dict[str, Any] | None = None, max_bytes: int = ACK_MAX_BYTES) -> bool:
    """Cut the list ``holder[key]`` (``holder`` is ``ack`` or a part of it) so the whole
    ack fits in ``max_bytes``; True if it was cut.

    ``keep="oldest"`` keeps a prefix (replayed events: the client continues after the
    last one), ``"newest"`` a suffix (a log's latest lines). At least one item stays, so
    a client asking again always moves on.
    """
    holder = ack if holder is None else holder
    items: list[Any] = holder[key]
    holder[key] = []
    budget = max_bytes - json_size(ack)
    holder[key] = items
    if not items or json_size(items) <= budget:
        return False
    ordered = items if keep == "oldest" else list(reversed(items))
    kept: list[Any] = []
    used = 2  # the list's brackets
    for item in ordered:
        size = json_size(item) + 1  # and its comma
        if kept and used + size > budget:
            break
        kept.append(item)
        used += size
    holder[key] = kept if keep == "oldest" else list(reversed(kept))
    return True
