"""Throttled progress and output publishing (worker.stream), progress-line parsing and
report_progress (worker.progress), and the streaming shell kind feeding a stream.

The RunStream tests run its real publishing thread on a :class:`FakeClock`: time moves
only when a test steps it, and each step returns once the thread has sent all that was
due by then, so the throttles are checked to the instant and without real sleeps. The
shell-kind tests feed a stream in real time from a real command.
"""
from __future__ import annotations

import threading
import time
from itertools import pairwise

import pytest

from worker import progress
from worker.kinds import JobFailed, run_shell
from worker.progress import clean, parse_progress_line, report_progress
from worker.stream import RunStream, Throttle


class FakeClock:
    """Virtual seconds for one RunStream and the waiter its publishing thread uses.

    The thread's waits last until something wakes it (a new value, ``close``, a step of
    the clock): a wait "for 0.1 s" ends only when the test has moved time on.
    :meth:`advance` moves time, then :meth:`settle`\ s: returns once the thread, having
    seen the new time, is waiting again (or has ended). While a test is inside
    ``close`` (:meth:`close`), nobody else moves time, so a wait with a timeout jumps
    the clock to its end, as real time would pass while ``close`` waits.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.stream: RunStream | None = None
        self._waits = 0  # how often the thread has started to wait; guarded by its condition
        self._free_run = False

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Time that passes inside a send (only the publishing thread calls it)."""
        self.now += seconds

    def wait(self, cond: threading.Condition, timeout: float | None) -> None:
        """The waiter given to the RunStream; runs in its thread, holding ``cond``."""
        if self._free_run and timeout is not None:
            self.now += timeout
            return
        self._waits += 1
        cond.notify_all()  # a settle() waiting on the condition: the thread is idle
        cond.wait()

    def settle(self) -> None:
        """Return once the publishing thread has acted on everything so far: it waits
        again after this call woke it, or it has ended (or never started)."""
        stream = self.stream
        thread = stream._thread if stream is not None else None
        if thread is None:
            return
        deadline = time.monotonic() + 5
        with stream._cond:
            seen = self._waits
            stream._cond.notify_all()  # a spurious wake-up: the thread looks again
            while self._waits == seen and thread.is_alive():
                assert time.monotonic() < deadline, "the stream's thread did not settle"
                stream._cond.wait(0.01)  # woken by wait(); the timeout notices an exit

    def advance(self, seconds: float) -> None:
        self.settle()  # what the last calls offered goes at the time they were made
        self.now += seconds
        self.settle()

    def close(self) -> None:
        """``stream.close()``, time passing as the stream waits for its last sends."""
        self.settle()
        self._free_run = True
        try:
            self.stream.close(timeout=5)
        finally:
            self._free_run = False
        thread = self.stream._thread
        assert thread is None or not thread.is_alive(), "close() left the stream's thread running"


class Recorder:
    """Collects what a RunStream sends, with the time each send started and ended: by
    a :class:`FakeClock` (each send taking ``delay`` virtual seconds), or, with
    ``real=True``, by ``time.monotonic`` (for a stream fed by a real command)."""

    def __init__(self, delay: float = 0.0, real: bool = False) -> None:
        self.delay = delay
        self.clock = None if real else FakeClock()
        self.progress: list[tuple[float, float, int, str | None]] = []
        self.batches: list[tuple[float, float, list[dict]]] = []
        self.lock = threading.Lock()

    def _now(self) -> float:
        return time.monotonic() if self.clock is None else self.clock()

    def _take(self) -> tuple[float, float]:
        start = self._now()
        if self.clock is None:
            time.sleep(self.delay)
        else:
            self.clock.sleep(self.delay)
        return start, self._now()

    def send_progress(self, percent: int, message: str | None) -> None:
        start, end = self._take()
        with self.lock:
            self.progress.append((start, end, percent, message))

    def send_lines(self, lines: list[dict]) -> None:
        start, end = self._take()
        with self.lock:
            self.batches.append((start, end, list(lines)))

    def stream(self, **kwargs) -> RunStream:
        if self.clock is None:
            return RunStream(self.send_progress, self.send_lines, **kwargs)
        stream = RunStream(self.send_progress, self.send_lines, clock=self.clock, wait=self.clock.wait,
                           **kwargs)
        self.clock.stream = stream
        return stream

    def close(self, stream: RunStream) -> None:
        if self.clock is None:
            stream.close()
        else:
            self.clock.close()


def max_in_window(starts: list[float], window: float = 1.0) -> int:
    """The most sends that started within any ``window`` seconds."""
    best = 0
    for i, t in enumerate(starts):
        best = max(best, sum(1 for u in starts[i:] if u - t < window))
    return best


# --- Throttle ----------------------------------------------------------------------


def test_throttle_allows_the_first_send_then_one_per_interval_after_the_last_end():
    throttle = Throttle(0.25)
    assert throttle.wait(100.0) == 0.0
    throttle.sent(100.1)  # the send ended at 100.1
    assert throttle.wait(100.1) == pytest.approx(0.25)
    assert throttle.wait(100.3) == pytest.approx(0.05)
    assert throttle.wait(100.35) == 0.0
    assert throttle.wait(101.0) == 0.0


# --- RunStream: progress -------------------------------------------------------------


def test_progress_is_throttled_to_four_a_second_and_the_last_value_always_goes():
    rec = Recorder()
    stream, clock = rec.stream(), rec.clock
    started = clock()
    for value in range(101):
        stream.progress(value, f"step {value}")
        clock.advance(0.012)  # about 1.2 s of reports, 80 a second
    rec.close(stream)
    sent = rec.progress
    assert sent[0][2] == 0 and sent[-1][2:] == (100, "step 100")
    values = [p for _, _, p, _ in sent]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert 4 <= len(sent) <= 7, values  # 1.2 s at 4/s, plus the final one
    # Exactly: the first report, then the latest one each time the throttle opens.
    assert values == [0, 20, 41, 62, 83, 100], values
    starts = [s for s, _, _, _ in sent]
    assert max_in_window(starts) <= 4
    # Each send starts at least 0.25 s after the previous one ended, and no later than
    # the first report after that (the final one: exactly then, as close waits).
    gaps = [start - end for (_, end, _, _), (start, _, _, _) in pairwise(sent)]
    assert all(0.25 - 1e-9 <= gap < 0.25 + 0.012 for gap in gaps), gaps
    assert gaps[-1] == pytest.approx(0.25)
    assert clock() - started < 2.0


def test_slow_sends_still_keep_the_gap_and_the_last_value_wins():
    rec = Recorder(delay=0.1)  # a slow database: each send takes 0.1 s
    stream, clock = rec.stream(), rec.clock
    for value in range(50):
        stream.progress(value)
        clock.advance(0.011)
    rec.close(stream)
    starts_ends = [(s, e) for s, e, _, _ in rec.progress]
    assert len(starts_ends) >= 2
    for (_, end), (start, _) in pairwise(starts_ends):
        assert start - end >= 0.25 - 1e-9
    values = [p for _, _, p, _ in rec.progress]
    assert values == sorted(values) and rec.progress[-1][2] == 49


def test_close_sends_a_pending_value_after_waiting_its_turn():
    rec = Recorder()
    stream, clock = rec.stream(), rec.clock
    stream.progress(10)
    clock.advance(0.05)
    stream.progress(90, "almost")  # pending: too soon after 10
    rec.close(stream)
    assert [(p, m) for _, _, p, m in rec.progress] == [(10, None), (90, "almost")]
    assert rec.progress[1][0] - rec.progress[0][1] == pytest.approx(0.25)  # its turn, no later


def test_close_without_anything_sent_returns_at_once():
    rec = Recorder()
    stream, clock = rec.stream(), rec.clock
    before = clock()
    started = time.monotonic()
    rec.close(stream)
    assert time.monotonic() - started < 0.05 and clock() == before
    assert rec.progress == [] and rec.batches == []


def test_a_failing_send_does_not_stop_the_stream():
    calls = []

    def broken(percent, message):
        calls.append(percent)
        raise RuntimeError("database away")

    clock = FakeClock()
    stream = clock.stream = RunStream(broken, lambda lines: None, progress_interval=0.01,
                                      clock=clock, wait=clock.wait)
    stream.progress(1)
    clock.advance(0.05)
    stream.progress(2)
    clock.close()
    assert calls == [1, 2]


# --- RunStream: output lines ---------------------------------------------------------


def test_lines_are_numbered_batched_at_most_ten_a_second_and_all_arrive_in_order():
    rec = Recorder()
    stream, clock = rec.stream(), rec.clock
    for i in range(1, 1201):
        stream.line("stdout" if i % 3 else "stderr", f"line {i}")
        if i % 60 == 0:
            clock.advance(0.03)  # 2,000 lines a second, in bursts (steps off the 0.1 s grid)
    rec.close(stream)
    lines = [line for _, _, batch in rec.batches for line in batch]
    assert [line["n"] for line in lines] == list(range(1, 1201))
    assert lines[0] == {"n": 1, "stream": "stdout", "text": "line 1"}
    assert lines[2]["stream"] == "stderr"
    starts = [s for s, _, _ in rec.batches]
    assert max_in_window(starts) <= 10
    # 0.6 s of lines: one batch at once, then one each 0.1 s, then the rest.
    assert len(rec.batches) <= 8, [len(b) for _, _, b in rec.batches]
    for (_, end, _), (start, _, _) in pairwise(rec.batches):
        assert start - end >= 0.1 - 1e-9
    assert stream.line_count == 1200 and stream.dropped_lines == 0


def test_a_flood_drops_the_oldest_pending_lines_from_the_live_stream_only():
    rec = Recorder(delay=0.05)
    stream, clock = rec.stream(max_pending=100), rec.clock
    stream.line("stdout", "1")
    clock.settle()  # line 1 went at once; the next batch waits its turn
    for i in range(2, 5001):
        stream.line("stdout", str(i))
    rec.close(stream)
    numbers = [line["n"] for _, _, batch in rec.batches for line in batch]
    assert numbers == sorted(numbers) and numbers[-1] == 5000
    # Meanwhile only the newest 100 waited: all between 1 and 4901 left the live stream.
    assert numbers == [1, *range(4901, 5001)]
    assert stream.dropped_lines == 5000 - len(numbers)
    assert stream.line_count == 5000


def test_numbering_continues_from_first_line():
    rec = Recorder()
    stream = rec.stream(first_line=41)
    assert stream.line("system", "attempt 2 of 3") == 42
    rec.close(stream)
    assert rec.batches[0][2] == [{"n": 42, "stream": "system", "text": "attempt 2 of 3"}]


# --- parsing -------------------------------------------------------------------------


@pytest.mark.parametrize("line, expected", [
    ("::progress 40 scanning host 3/7", (40, "scanning host 3/7")),
    ("::progress 40", (40, None)),
    ("::progress 40%", (40, None)),
    ("::progress 12.7% half way", (12, "half way")),
    ("::progress 250 too much", (100, "too much")),
    ("::progress 0", (0, None)),
    ("::progress\t55\tTAB separated  ", (55, "TAB separated")),
])
def test_progress_lines_parse(line, expected):
    assert parse_progress_line(line) == expected


@pytest.mark.parametrize("line", [
    "::progress", "::progress abc", "::progress -5", "  ::progress 40", "::progress40",
    "progress 40", "::PROGRESS 40", "::progress 40x", "",
])
def test_other_lines_are_not_progress(line):
    assert parse_progress_line(line) is None


def test_messages_are_one_line_and_bounded():
    value, message = clean(50, "a\nb\tc " + "x" * 500)
    assert value == 50 and message.startswith("a b c x") and len(message) == 200
    assert clean(3.99, "   ") == (3, None)
    with pytest.raises(ValueError):
        clean(float("nan"), None)
    with pytest.raises(ValueError):
        clean("50", None)  # type: ignore[arg-type]


def test_report_progress_outside_a_job_does_nothing():
    progress.set_current_stream(None)
    report_progress(50, "no job here")  # no error


def test_report_progress_goes_to_the_current_stream():
    rec = Recorder()
    stream = rec.stream()
    progress.set_current_stream(stream)
    try:
        report_progress(33.3, "a third")
        with pytest.raises(ValueError):
            report_progress(None)  # type: ignore[arg-type]
    finally:
        progress.set_current_stream(None)
        rec.close(stream)
    assert [(p, m) for _, _, p, m in rec.progress] == [(33, "a third")]


# --- the shell kind, streaming -----------------------------------------------------


def test_shell_streams_lines_in_order_and_turns_progress_lines_into_progress():
    rec = Recorder(real=True)  # the command's reader thread feeds the stream in real time
    stream = rec.stream()
    spawned = []
    outcome = run_shell(
        {"command": "echo one; echo '::progress 30 warming up'; echo two >&2; "
                    "echo '::progress 100 done'; echo ::progress 50 >&2; printf 'last'"},
        10, 1, 4096, stream=stream, on_spawn=spawned.append,
    )
    stream.close()
    lines = [line for _, _, batch in rec.batches for line in batch]
    assert [(line["n"], line["stream"], line["text"]) for line in lines] == [
        (1, "stdout", "one"), (2, "stderr", "two"), (3, "stderr", "::progress 50"), (4, "stdout", "last"),
    ]
    assert rec.progress[-1][2:] == (100, "done")
    assert outcome.output == "one\ntwo\n::progress 50\nlast" and outcome.lines == 4
    assert len(spawned) == 1 and spawned[0] > 1


def test_shell_lines_arrive_while_the_command_runs():
    rec = Recorder(real=True)
    stream = rec.stream()
    run_shell({"command": "echo first; sleep 1; echo second"}, 10, 1, 4096, stream=stream)
    stream.close()
    first_at = next(s for s, _, batch in rec.batches if batch[0]["text"] == "first")
    second_at = next(s for s, _, batch in rec.batches if batch[-1]["text"] == "second")
    assert second_at - first_at >= 0.8  # "first" went out before the sleep ended


def test_very_long_lines_are_split_and_crlf_is_trimmed():
    outcome = run_shell({"command": "head -c 20000 /dev/zero | tr '\\0' x; printf 'a\\r\\nb\\n'"},
                        10, 1, 1 << 20)
    parts = outcome.output.split("\n")
    assert [len(p) for p in parts[:3]] == [8192, 8192, 20000 - 2 * 8192 + 1]  # the x's, then "a"
    assert parts[2].endswith("xa") and parts[3] == "b"


def test_failed_and_timed_out_shell_jobs_carry_their_line_count():
    with pytest.raises(JobFailed) as info:
        run_shell({"command": "echo a; echo b; exit 2"}, 10, 1, 4096)
    assert info.value.lines == 2
    with pytest.raises(JobFailed) as info:
        run_shell({"command": "echo a; sleep 5"}, 1, 1, 4096)
    assert str(info.value) == "timed out after 1 s" and info.value.lines == 1
