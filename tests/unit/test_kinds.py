"""Job kinds run directly: worker.kinds.run_shell and run_python."""
from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from worker.kinds import JobFailed, Outcome, run_python, run_shell, tail

TAIL = 64 * 1024


def shell(command: str, timeout: int = 10, tail_bytes: int = TAIL) -> Outcome:
    return run_shell({"command": command}, timeout, 1, tail_bytes)


def processes_with(marker: str) -> list[tuple[int, str]]:
    """Live (non-zombie) processes whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state = stat.rsplit(")", 1)[1].split()[0]
        if marker in cmdline and state not in ("Z", "X"):
            found.append((int(entry.name), cmdline))
    return found


@pytest.fixture
def marker() -> str:
    """A sleep duration no other process uses, to find our children in /proc."""
    return f"30.{uuid.uuid4().int % 10**6:06d}"


def test_success_returns_output_and_exit_code_zero():
    outcome = shell("echo hello; echo to stderr >&2")
    assert outcome == Outcome(exit_code=0, output="hello\nto stderr\n")


def test_runs_under_sh_like_cron():
    outcome = shell('x=taskpulse; [ "$x" = taskpulse ] && printf "%s|" "$0" && echo ok')
    assert outcome.output == "/bin/sh|ok\n"


def test_stdin_is_not_inherited():
    assert shell("cat; echo done").output == "done\n"


def test_non_zero_exit_fails_with_code_and_stderr_tail():
    with pytest.raises(JobFailed) as info:
        shell("echo partial; for i in 1 2 3 4 5 6 7; do echo line $i >&2; done; exit 3")
    failure = info.value
    assert str(failure).startswith("exit code 3: ")
    assert "line 7" in str(failure) and "line 3" in str(failure) and "line 2" not in str(failure)
    assert failure.exit_code == 3
    assert failure.output.startswith("partial\n") and failure.output.endswith("line 7\n")


def test_non_zero_exit_without_stderr_uses_stdout_tail():
    with pytest.raises(JobFailed) as info:
        shell("echo only stdout; exit 2")
    assert str(info.value) == "exit code 2: only stdout"


def test_non_zero_exit_without_any_output_says_just_the_code():
    with pytest.raises(JobFailed) as info:
        shell("exit 1")
    assert str(info.value) == "exit code 1" and info.value.exit_code == 1


def test_missing_command_says_command_not_found():
    with pytest.raises(JobFailed) as info:
        shell("no-such-command-taskpulse --scan")
    message = str(info.value)
    assert message.startswith("exit code 127 (command not found)")
    assert "no-such-command-taskpulse" in message
    assert info.value.exit_code == 127


def test_killed_by_a_signal_says_so():
    with pytest.raises(JobFailed) as info:
        shell("kill -9 $$")
    assert str(info.value).startswith("killed by signal 9")


def test_timeout_fails_says_so_and_kills_the_children(marker):
    started = time.monotonic()
    with pytest.raises(JobFailed) as info:
        shell(f"echo started; sleep {marker} & sleep {marker}", timeout=1)
    elapsed = time.monotonic() - started
    assert str(info.value) == "timed out after 1 s"
    assert "started" in info.value.output
    assert elapsed < 5, elapsed
    assert processes_with(f"sleep {marker}") == []


def test_timeout_kills_children_that_ignore_sigterm(marker):
    lifetime = "3"  # kept short: the bug makes the call wait this long
    started = time.monotonic()
    with pytest.raises(JobFailed) as info:
        shell(f"(trap '' TERM; sleep {lifetime}; echo {marker}) & sleep {marker}", timeout=1)
    elapsed = time.monotonic() - started
    assert str(info.value) == "timed out after 1 s"
    assert elapsed < 2.5, f"a 1 s timeout took {elapsed:.1f} s"


def test_output_tail_is_bounded():
    limit = 1000
    outcome = shell("i=0; while [ $i -lt 500 ]; do echo line-$i; i=$((i+1)); done; echo last-line", tail_bytes=limit)
    data = outcome.output.encode()
    assert outcome.output.startswith("…")  # marks the cut
    assert len(data) <= limit + len("…".encode())
    assert len(data) >= limit
    assert outcome.output.endswith("line-499\nlast-line\n")


def test_output_under_the_limit_is_kept_whole():
    assert shell("echo short", tail_bytes=100).output == "short\n"


def test_failure_output_tail_is_bounded():
    with pytest.raises(JobFailed) as info:
        shell("head -c 50000 /dev/zero | tr '\\0' x; echo; echo boom >&2; exit 4", tail_bytes=200)
    assert len(info.value.output.encode()) <= 200 + len("…".encode())
    assert info.value.output.endswith("boom\n")
    assert str(info.value) == "exit code 4: boom"


def test_tail_cuts_at_a_character_boundary():
    text = "é" * 100  # two bytes each
    cut = tail(text, 51)
    assert cut.startswith("…") and set(cut[1:]) == {"é"} and len(cut[1:]) == 25


def test_non_utf8_output_does_not_break_the_run():
    outcome = shell("printf 'caf\\351\\n'")
    assert outcome.output.startswith("caf") and outcome.exit_code == 0


def test_run_python_calls_the_example():
    outcome = run_python({"callable": "worker.examples:count_primes", "kwargs": {"limit": 100}}, 10, 1, TAIL)
    assert outcome == Outcome(exit_code=None, output="25 primes below 100")


def test_run_python_without_kwargs_uses_defaults():
    for config in ({"callable": "worker.examples:count_primes"},
                   {"callable": "worker.examples:count_primes", "kwargs": None}):
        assert run_python(config, 10, 1, TAIL).output == "1229 primes below 10000"


def test_run_python_output_is_bounded():
    outcome = run_python({"callable": "worker.examples:count_primes", "kwargs": {"limit": 100}}, 10, 1, 5)
    assert outcome.output == "…w 100"


def test_run_python_errors_propagate():
    with pytest.raises(RuntimeError, match="disk full"):
        run_python({"callable": "worker.examples:fail", "kwargs": {"message": "disk full"}}, 10, 1, TAIL)


def test_marker_helper_sees_a_live_process(marker):
    """The /proc scan used above does find a running process (so its [] means something)."""
    import subprocess

    proc = subprocess.Popen(["sleep", marker])
    try:
        assert [pid for pid, _ in processes_with(f"sleep {marker}")] == [proc.pid]
    finally:
        proc.kill()
        proc.wait()
    assert processes_with(f"sleep {marker}") == []
