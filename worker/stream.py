"""Throttled publishing of a running job's progress and output lines (in the work horse).

The job (the shell reader loop, or a python job calling ``report_progress``) hands
values to a :class:`RunStream`; one background thread publishes them, so the job never
waits on the database or Redis:

- progress: at most one ``task_update`` per ``PROGRESS_INTERVAL`` (4 a second); a newer
  value replaces a pending one (the last value wins); the last one always goes.
- output: at most one ``run_output`` batch per ``OUTPUT_INTERVAL`` (10 a second); lines
  accumulate meanwhile (the oldest beyond ``MAX_PENDING_LINES`` are dropped from the
  live stream only: they would be trimmed from Redis anyway).

Intervals are measured from the *end* of the previous send, so two sends can never be
closer than the interval, however long one took. :meth:`RunStream.close` waits for the
last values to go (still throttled) before the run's final status is written, so the
final progress always precedes the terminal ``task_update``.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.25
OUTPUT_INTERVAL = 0.1
MAX_PENDING_LINES = 2000

ProgressSender = Callable[[int, "str | None"], None]
LinesSender = Callable[[list[dict[str, Any]]], None]
# How the publishing thread waits, holding the stream's condition: until it is notified
# (a new value, close) or ``timeout`` seconds (None: no limit) have passed by the clock.
Waiter = Callable[[threading.Condition, "float | None"], object]


def condition_wait(cond: threading.Condition, timeout: float | None) -> object:
    """The waiter of production: ``Condition.wait`` (real time, as ``time.monotonic``)."""
    return cond.wait(timeout)


class Throttle:
    """At most one send per ``interval`` seconds, counted from the end of the last send."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last_end: float | None = None

    def wait(self, now: float) -> float:
        """Seconds until a send is allowed (0.0 when it is allowed now)."""
        if self._last_end is None:
            return 0.0
        return max(0.0, self._last_end + self.interval - now)

    def sent(self, now: float) -> None:
        """Record that a send ended at ``now``."""
        self._last_end = now


class RunStream:
    """Progress and output of one run, published from a background thread, throttled.

    Args:
        send_progress: publishes ``(percent, message)`` (a ``task_update``).
        send_lines: publishes numbered lines (a ``run_output`` batch).
        first_line: the number of the line before the first one this stream numbers
            (a retried run continues its numbering).
        clock: the time the throttles count in (seconds).
        wait: how the publishing thread waits for a change or for a throttle to let the
            next send go; it must measure ``timeout`` by ``clock``. The defaults are real
            time; tests inject a fake clock with its own waiter to step time.
        mask: applied to every line's text and progress message as it is offered, so
            the run's secret values never reach the publishing thread.
    """

    def __init__(self, send_progress: ProgressSender, send_lines: LinesSender, *,
                 first_line: int = 0, progress_interval: float = PROGRESS_INTERVAL,
                 output_interval: float = OUTPUT_INTERVAL, max_pending: int = MAX_PENDING_LINES,
                 clock: Callable[[], float] = time.monotonic, wait: Waiter = condition_wait,
                 mask: Callable[[str], str] | None = None) -> None:
        self._mask = mask
        self._send_progress = send_progress
        self._send_lines = send_lines
        self._clock = clock
        self._wait = wait
        self._progress_throttle = Throttle(progress_interval)
        self._output_throttle = Throttle(output_interval)
        self._max_pending = max_pending
        self._cond = threading.Condition()
        self._pending_progress: tuple[int, str | None] | None = None
        self._pending_lines: deque[dict[str, Any]] = deque()
        self._closing = False
        self._thread: threading.Thread | None = None
        self.line_count = first_line
        self.dropped_lines = 0

    # --- producer side (the job) ------------------------------------------------------

    def progress(self, percent: int, message: str | None = None) -> None:
        """Offer a progress value; it replaces any value not yet sent."""
        if self._mask is not None and message is not None:
            message = self._mask(message)
        with self._cond:
            self._pending_progress = (percent, message)
            self._start()
            self._cond.notify()

    def line(self, stream: str, text: str) -> int:
        """Offer one output line; returns its number."""
        if self._mask is not None:
            text = self._mask(text)
        with self._cond:
            self.line_count += 1
            self._pending_lines.append({"n": self.line_count, "stream": stream, "text": text})
            if len(self._pending_lines) > self._max_pending:
                self._pending_lines.popleft()
                self.dropped_lines += 1
            self._start()
            self._cond.notify()
            return self.line_count

    def close(self, timeout: float = 10.0) -> None:
        """Send what is pending (throttled as always), then stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("stream: pending progress/output not sent within %s s", timeout)

    # --- the publishing thread --------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None and not self._closing:
            self._thread = threading.Thread(target=self._loop, name="taskpulse-stream", daemon=True)
            self._thread.start()

    def _next(self) -> tuple[tuple[int, str | None] | None, list[dict[str, Any]]] | None:
        """Wait until something may be sent; None when closed and drained."""
        with self._cond:
            while True:
                now = self._clock()
                waits = []
                progress, lines = None, []
                if self._pending_progress is not None:
                    wait = self._progress_throttle.wait(now)
                    if wait == 0.0:
                        progress, self._pending_progress = self._pending_progress, None
                    else:
                        waits.append(wait)
                if self._pending_lines:
                    wait = self._output_throttle.wait(now)
                    if wait == 0.0:
                        lines = list(self._pending_lines)
                        self._pending_lines.clear()
                    else:
                        waits.append(wait)
                if progress is not None or lines:
                    return progress, lines
                if not waits and self._closing:
                    return None
                self._wait(self._cond, min(waits) if waits else None)

    def _loop(self) -> None:
        while True:
            item = self._next()
            if item is None:
                return
            progress, lines = item
            # Lines first: a progress line printed after some output follows it.
            if lines:
                try:
                    self._send_lines(lines)
                except Exception:
                    log.exception("stream: sending %d output lines failed", len(lines))
                self._output_throttle.sent(self._clock())
            if progress is not None:
                try:
                    self._send_progress(*progress)
                except Exception:
                    log.exception("stream: sending progress %s failed", progress[0])
                self._progress_throttle.sent(self._clock())
