"""Ride out a briefly unavailable database: retry a whole transaction with backoff.

Used for run state changes, which come from worker callbacks that cannot ask anybody to
try again later: losing one would leave a run ``running`` forever.
"""
from __future__ import annotations

import functools
import logging
import time
from typing import Any, Callable, TypeVar

from flask import current_app
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from webapp.core.extensions import db

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
BACKOFF = (0.2, 0.5, 1.0, 2.0, 4.0)


def is_outage(exc: BaseException) -> bool:
    """True for errors that mean "the database is away or busy right now" (refused or
    cut connections, timeouts, SQLite's lock), as opposed to a bad query or a bug."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def retry_on_db_outage(func: F) -> F:
    """Retry ``func`` (one transaction) while the database is unreachable or locked,
    for up to ``DB_RETRY_SECONDS``; the session is rolled back between tries."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + current_app.config.get("DB_RETRY_SECONDS", 60)
        attempt = 0
        while True:
            try:
                return func(*args, **kwargs)
            except Exception as exc:
                if not is_outage(exc) or time.monotonic() >= deadline:
                    raise
                db.session.rollback()
                delay = BACKOFF[min(attempt, len(BACKOFF) - 1)]
                attempt += 1
                log.warning("%s%s: database unavailable (%s); retry %d in %.1f s", func.__name__,
                            f" run {args[0]}" if args else "", str(exc).splitlines()[0][:200], attempt, delay)
                time.sleep(delay)

    return wrapper  # type: ignore[return-value]


class LoopErrors:
    """A background loop's failure log: a database outage is said once, without a
    traceback, until the loop succeeds again (every few seconds otherwise); anything
    else is logged with its traceback each time."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.logger, self.what, self.away = logger, what, False

    def failed(self, exc: BaseException) -> None:
        """Call from the ``except`` block of a failed round."""
        if not is_outage(exc):
            self.logger.exception("%s failed", self.what)
        elif not self.away:
            self.away = True
            self.logger.warning("%s: the database is unavailable (%s); trying again",
                                self.what, type(exc).__name__)

    def succeeded(self) -> None:
        """Call after a round that worked."""
        if self.away:
            self.away = False
            self.logger.info("%s: the database is back", self.what)


def close_session() -> None:
    """Close the session (end its transaction, hand back its connection). When the
    database has just cut the connection, the rollback at the close fails; the
    transaction died with the connection, so there is nothing to undo: that is logged,
    not raised (a read that succeeded must not fail the job that made it), and the
    session, now without the dead connection, is closed again."""
    try:
        db.session.remove()
    except Exception as exc:
        if not is_outage(exc):
            raise
        log.warning("database connection lost before the session's close (%s); nothing to roll back",
                    str(exc).splitlines()[0][:200])
        db.session.remove()
