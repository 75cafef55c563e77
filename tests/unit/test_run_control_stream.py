"""Throttled progress and output publishing (worker.stream), progress-line parsing and
report_progress (worker.progress), and the streaming shell kind feeding a stream."""
from __future__ import annotations

import threading
import time
from itertools import pairwise

import pytest

from worker import progress
from worker.kinds import JobFailed, run_shell
from worker.progress import clean, parse_progress_line, report_progress
from worker.stream import RunStream, Throttle


class Recorder:
    """Collects what a RunStream sends, with the time each send started and ended."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.progress: list[tuple[float, float, int, str | None]] = []
        self.batches: list[tuple[float, float, list[dict]]] = []
        self.lock = threading.Lock()

    def send_progress(self, percent: int, message: str | None) -> None:
        start = time.monotonic()
        time.sleep(self.delay)
        with self.lock:
            self.progress.append((start, time.monotonic(), percent, message))

    def send_lines(self, lines: list[dict]) -> None:
        start = time.monotonic()
        time.sleep(self.delay)
        with self.lock:
            self.batches.append((start, time.monotonic(), list(lines)))

    def stream(self, **kwargs) -> RunStream:
        return RunStream(self.send_progress, self.send_lines, **kwargs)


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
    stream = rec.stream()
    started = time.monotonic()
    for value in range(101):
        stream.progress(value, f"step {value}")
        time.sleep(0.012)  # about 1.2 s of reports, 80 a second
    stream.close()
    sent = rec.progress
    assert sent[0][2] == 0 and sent[-1][2:] == (100, "step 100")
    values = [p for _, _, p, _ in sent]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert 4 <= len(sent) <= 7, values  # 1.2 s at 4/s, plus the final one
    starts = [s for s, _, _, _ in sent]
    assert max_in_window(starts) <= 4
    # Each send starts at least 0.25 s after the previous one ended.
    for (_, end, _, _), (start, _, _, _) in pairwise(sent):
        assert start - end >= 0.25 - 0.005
    assert time.monotonic() - started < 2.0


def test_slow_sends_still_keep_the_gap_and_the_last_value_wins():
    rec = Recorder(delay=0.1)  # a slow database
    stream = rec.stream()
    for value in range(50):
        stream.progress(value)
        time.sleep(0.01)
    stream.close()
    starts_ends = [(s, e) for s, e, _, _ in rec.progress]
    for (_, end), (start, _) in pairwise(starts_ends):
        assert start - end >= 0.25 - 0.005
    assert rec.progress[-1][2] == 49


def test_close_sends_a_pending_value_after_waiting_its_turn():
    rec = Recorder()
    stream = rec.stream()
    stream.progress(10)
    time.sleep(0.05)
    stream.progress(90, "almost")  # pending: too soon after 10
    stream.close()
    assert [(p, m) for _, _, p, m in rec.progress] == [(10, None), (90, "almost")]
    assert rec.progress[1][0] - rec.progress[0][1] >= 0.25 - 0.005


def test_close_without_anything_sent_returns_at_once():
    rec = Recorder()
    stream = rec.stream()
    started = time.monotonic()
    stream.close()
    assert time.monotonic() - started < 0.05
    assert rec.progress == [] and rec.batches == []


def test_a_failing_send_does_not_stop_the_stream():
    calls = []

    def broken(percent, message):
        calls.append(percent)
        raise RuntimeError("database away")

    stream = RunStream(broken, lambda lines: None, progress_interval=0.01)
    stream.progress(1)
    time.sleep(0.05)
    stream.progress(2)
    stream.close()
    assert calls == [1, 2]


# --- RunStream: output lines ---------------------------------------------------------


def test_lines_are_numbered_batched_at_most_ten_a_second_and_all_arrive_in_order():
    rec = Recorder()
    stream = rec.stream()
    for i in range(1, 1201):
        stream.line("stdout" if i % 3 else "stderr", f"line {i}")
        if i % 100 == 0:
            time.sleep(0.05)
    stream.close()
    lines = [line for _, _, batch in rec.batches for line in batch]
    assert [line["n"] for line in lines] == list(range(1, 1201))
    assert lines[0] == {"n": 1, "stream": "stdout", "text": "line 1"}
    assert lines[2]["stream"] == "stderr"
    starts = [s for s, _, _ in rec.batches]
    assert max_in_window(starts) <= 10
    for (_, end, _), (start, _, _) in pairwise(rec.batches):
        assert start - end >= 0.1 - 0.005
    assert stream.line_count == 1200 and stream.dropped_lines == 0


def test_a_flood_drops_the_oldest_pending_lines_from_the_live_stream_only():
    rec = Recorder(delay=0.05)
    stream = rec.stream(max_pending=100)
    for i in range(1, 5001):
        stream.line("stdout", str(i))
    stream.close()
    numbers = [line["n"] for _, _, batch in rec.batches for line in batch]
    assert numbers == sorted(numbers) and numbers[-1] == 5000
    assert stream.dropped_lines == 5000 - len(numbers)
    assert stream.line_count == 5000


def test_numbering_continues_from_first_line():
    rec = Recorder()
    stream = rec.stream(first_line=41)
    assert stream.line("system", "attempt 2 of 3") == 42
    stream.close()
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
        stream.close()
    assert [(p, m) for _, _, p, m in rec.progress] == [(33, "a third")]


# --- the shell kind, streaming -----------------------------------------------------


def test_shell_streams_lines_in_order_and_turns_progress_lines_into_progress():
    rec = Recorder()
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
    rec = Recorder()
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
