"""Issue 12 item 7: a line that is not a valid progress report is plain output, and an
exception inside a kind ends the command's whole process group before it propagates."""
from __future__ import annotations

import uuid

import pytest

from tests.support.processes import wait_until
from worker.kinds import run_shell
from worker.procs import group_members
from worker.progress import parse_progress_line


@pytest.mark.parametrize("line", [
    "::progress 999999999999999999999",
    "::progress " + "9" * 400,          # float() of it is inf: it used to raise
    "::progress 50." + "9" * 5000,
    "::progress 1e5",
    "::progress 100.0000001",
    "::progress 0x10",
])
def test_invalid_progress_lines_are_not_progress_and_never_raise(line):
    assert parse_progress_line(line) is None


def test_a_progress_line_with_a_long_run_of_spaces_parses_quickly():
    assert parse_progress_line("::progress 5" + " " * 8000 + "x") == (5, "x")


class _Stream:
    """A RunStream stand-in that breaks on a given line, as a bug in the stream would."""

    def __init__(self, breaks_on: str) -> None:
        self.breaks_on = breaks_on
        self.lines: list[str] = []
        self.line_count = 0

    def line(self, name: str, text: str) -> int:
        if text == self.breaks_on:
            raise RuntimeError("the stream broke")
        self.lines.append(text)
        self.line_count += 1
        return self.line_count

    def progress(self, percent: int, message: str | None) -> None:
        pass


def test_bad_progress_line_is_output_and_the_command_carries_on():
    stream = _Stream(breaks_on="never")
    outcome = run_shell({"command": "echo '::progress 999999999999999999999'; echo after"},
                        10, 1, 4096, stream=stream)
    assert outcome.exit_code == 0
    assert stream.lines == ["::progress 999999999999999999999", "after"]
    assert outcome.output == "::progress 999999999999999999999\nafter\n"


def test_an_exception_inside_the_kind_ends_the_command_group():
    marker = f"30.{uuid.uuid4().int % 10**6:06d}"
    groups: list[int] = []
    command = f"sleep {marker} & echo boom; sleep {marker}"
    with pytest.raises(RuntimeError, match="the stream broke"):
        run_shell({"command": command}, 60, 1, 4096, stream=_Stream(breaks_on="boom"),
                  on_spawn=groups.append)
    (pgid,) = groups
    # Both sleeps (the shell's child and its background job) are gone, not orphaned.
    wait_until(lambda: not group_members(pgid), 5, what=f"process group {pgid} to end")


def test_the_worker_hides_its_environment_from_jobs_of_its_user():
    """A non-dumpable worker (and its forked horses): /proc/<pid>/environ, which keeps
    the secrets it started with, is not readable by a job running as the same user."""
    import subprocess
    import sys

    probe = ("import ctypes; from worker import jobenv; ok = jobenv.hide_from_jobs(); "
             "libc = ctypes.CDLL(None); import os; pid = os.fork()\n"
             "if pid == 0: os._exit(libc.prctl(jobenv.PR_GET_DUMPABLE, 0, 0, 0, 0))\n"
             "print(ok, libc.prctl(jobenv.PR_GET_DUMPABLE, 0, 0, 0, 0), os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
    assert done.stdout.split() == ["True", "0", "0"], done.stderr  # the worker, and a forked horse
