"""The notice that credentials changed (a token revoked, a session signed out, a
password changed), so every web process re-checks its open sockets at once instead of
at its next periodic sweep.

It goes over Redis pub/sub, so a change made anywhere reaches every web process: in a
web request or in a CLI process (``flask --app wsgi users revoke-tokens``). A notice
that is lost (Redis away) only delays the drop until the periodic sweep.
"""
from __future__ import annotations

import logging

from webapp.core.redis import redis_connection

log = logging.getLogger(__name__)

CHANNEL = "taskpulse:credentials-changed"


def announce(what: str) -> None:
    """Tell every web process that credentials changed (``what`` names it in the log)."""
    try:
        redis_connection().publish(CHANNEL, what[:200])
    except Exception as exc:  # Redis away: the periodic sweep drops the sockets later
        log.warning("credentials changed (%s) but the notice could not be sent: %s", what, exc)
