"""Job kinds: how a task's ``config`` is executed. Register more in ``KINDS``.

Every kind is called as ``kind(config, timeout, run_id, tail_bytes, stream=None,
on_spawn=None, env=None, kwargs=None, mask=None)``: ``stream`` (a :class:`worker.stream.RunStream`, None outside a
worker) receives output lines and progress as they come; ``on_spawn(pgid)`` learns the
process group of a command the kind starts, so the worker can end it if the job is
stopped; ``env`` is the whole environment of what it starts (:func:`worker.jobenv.for_run`;
None: the allow-listed part of this process's); ``kwargs`` are the run's parameter
values (a python job's keyword arguments; a shell job has them as ``PARAM_*`` in ``env``);
``mask`` hides the run's secret values in every text the kind hands on
(:class:`worker.masking.Masker`), before it is kept or streamed.
"""
from __future__ import annotations

import codecs
import importlib
import inspect
import logging
import os
import select
import subprocess
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from webapp.runs.output import MAX_LINE_CHARS, tail

from . import jobenv, procs
from .progress import parse_progress_line
from .stream import RunStream

log = logging.getLogger(__name__)

TAIL_LINES_IN_ERROR = 5
DRAIN_SECONDS = 1.0  # after a timeout kill, how long to read what the command left
READ_CHUNK = 65536

__all__ = ["KINDS", "JobFailed", "JobRefused", "Outcome", "run_python", "run_shell", "tail"]


@dataclass
class Outcome:
    """What a successful job returns: kept with the run."""

    exit_code: int | None
    output: str
    # The number of the last output line (None when the kind does not count lines).
    lines: int | None = field(default=None, compare=False)


class JobFailed(Exception):
    """A job ended badly; ``message`` becomes the run's error."""

    def __init__(self, message: str, output: str = "", exit_code: int | None = None,
                 lines: int | None = None) -> None:
        super().__init__(message)
        self.output = output
        self.exit_code = exit_code
        self.lines = lines


class JobRefused(JobFailed):
    """The job may not run at all under this worker's settings (a switch is off, the
    callable is not allowed): the run fails at once, without retries."""


def _last_lines(text: str, count: int = TAIL_LINES_IN_ERROR) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-count:])


class _Output:
    """A command's output as it streams: lines in arrival order (stdout and stderr
    interleaved), the bounded tail kept for the run, the last lines of each stream for
    the error message, and each line handed to the live stream (progress lines, on
    stdout, become progress instead)."""

    def __init__(self, tail_bytes: int, stream: RunStream | None,
                 mask: Callable[[str], str] | None = None) -> None:
        self.tail_bytes = tail_bytes
        self.stream = stream
        self.mask = mask
        self.kept: deque[tuple[str, int]] = deque()  # (text with its newline, bytes)
        self.kept_bytes = 0
        self.recent = {"stdout": deque(maxlen=TAIL_LINES_IN_ERROR), "stderr": deque(maxlen=TAIL_LINES_IN_ERROR)}
        self.count = 0
        self._decoders = {name: codecs.getincrementaldecoder("utf-8")("replace") for name in self.recent}
        self._partial = {name: "" for name in self.recent}

    def feed(self, name: str, data: bytes, final: bool = False) -> None:
        text = self._partial[name] + self._decoders[name].decode(data, final)
        pieces = text.split("\n")
        rest = pieces.pop()
        for piece in pieces:
            self._line(name, piece.removesuffix("\r"), newline=True)
        while len(rest) > MAX_LINE_CHARS:  # a line without end: cut it into bounded lines
            self._line(name, rest[:MAX_LINE_CHARS], newline=True)
            rest = rest[MAX_LINE_CHARS:]
        if final and rest:
            self._line(name, rest, newline=False)
            rest = ""
        self._partial[name] = rest

    def _line(self, name: str, text: str, newline: bool) -> None:
        if self.mask is not None:  # first: nothing below may see a secret value
            text = self.mask(text)
        while len(text) > MAX_LINE_CHARS:
            self._line(name, text[:MAX_LINE_CHARS], newline=True)
            text = text[MAX_LINE_CHARS:]
        if name == "stdout":
            progress = parse_progress_line(text)
            if progress is not None:
                if self.stream is not None:
                    self.stream.progress(*progress)
                return
        self.count += 1
        if self.stream is not None:
            self.stream.line(name, text)
        if text.strip():
            self.recent[name].append(text)
        if self.kept and not self.kept[-1][0].endswith("\n"):  # an unterminated line, then more
            last, size = self.kept.pop()
            self.kept.append((last + "\n", size + 1))
            self.kept_bytes += 1
        entry = text + "\n" if newline else text
        size = len(entry.encode("utf-8", "replace"))
        self.kept.append((entry, size))
        self.kept_bytes += size
        while len(self.kept) > 1 and self.kept_bytes - self.kept[0][1] > self.tail_bytes:
            self.kept_bytes -= self.kept.popleft()[1]

    def text(self) -> str:
        return tail("".join(entry for entry, _ in self.kept), self.tail_bytes)

    def detail(self) -> str:
        return "\n".join(self.recent["stderr"]) or "\n".join(self.recent["stdout"])

    @property
    def last_line(self) -> int:
        return self.stream.line_count if self.stream is not None else self.count


def _pump(proc: subprocess.Popen, output: _Output, deadline: float) -> bool:
    """Read stdout and stderr as they come until both close or ``deadline`` passes.

    Returns True when both closed, False at the deadline.
    """
    names = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr"}
    open_fds = sorted(names)  # stdout first: of two ready streams, it was written first
    while open_fds:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        ready, _, _ = select.select(open_fds, [], [], min(remaining, 1.0))
        for fd in sorted(ready):
            data = os.read(fd, READ_CHUNK)
            if data:
                output.feed(names[fd], data)
            else:
                output.feed(names[fd], b"", final=True)
                open_fds.remove(fd)
    return True


def run_shell(config: dict[str, Any], timeout: int, run_id: int, tail_bytes: int,
              stream: RunStream | None = None,
              on_spawn: Callable[[int], None] | None = None,
              env: Mapping[str, str] | None = None, kwargs: Mapping[str, Any] | None = None,
              mask: Callable[[str], str] | None = None) -> Outcome:
    """Run ``config["command"]`` with ``/bin/sh -c`` as cron does, reading its output as
    it comes (lines go to ``stream``; ``::progress`` lines on stdout are progress).

    Raises:
        JobFailed: non-zero exit (error: exit code and the stderr tail) or timeout.
    """
    command = config["command"]
    log.info("run %s: sh -c %r", run_id, command[:200])
    started = time.monotonic()
    proc = subprocess.Popen(
        ["/bin/sh", "-c", command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        # Never the worker's own environment: it holds the secrets (worker.jobenv).
        env=dict(env) if env is not None else jobenv.base_environment(),
    )
    output = _Output(tail_bytes, stream, mask)
    deadline = started + timeout
    try:
        if on_spawn is not None:
            on_spawn(proc.pid)
        finished = _pump(proc, output, deadline)
        if finished:
            try:
                code = proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:  # closed its output, still running
                finished = False
        if not finished:
            procs.kill_group(proc.pid, leader=proc)
            _pump(proc, output, time.monotonic() + DRAIN_SECONDS)
            for name in ("stdout", "stderr"):
                output.feed(name, b"", final=True)
            try:
                proc.wait(DRAIN_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise JobFailed(f"timed out after {timeout} s", output=output.text(), lines=output.last_line)
    except JobFailed:
        raise  # the timeout path above has ended the group already
    except BaseException:
        # Anything else (a bug in a stream, RQ's timeout backstop, the horse told to stop):
        # the command leads its own session, so nothing else would ever end it.
        log.warning("run %s: the job broke while its command ran; ending process group %s",
                    run_id, proc.pid, exc_info=True)
        procs.kill_group(proc.pid, leader=proc)
        raise
    finally:
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()
    log.info("run %s: exit code %s", run_id, code)
    if code == 0:
        return Outcome(exit_code=0, output=output.text(), lines=output.last_line)
    if code < 0:
        reason = f"killed by signal {-code}"
    elif code == 127:
        reason = "exit code 127 (command not found)"
    else:
        reason = f"exit code {code}"
    detail = output.detail()
    raise JobFailed(f"{reason}: {detail}" if detail else reason, output=output.text(), exit_code=code,
                    lines=output.last_line)


def run_python(config: dict[str, Any], timeout: int, run_id: int, tail_bytes: int,
               stream: RunStream | None = None,
               on_spawn: Callable[[int], None] | None = None,
               env: Mapping[str, str] | None = None, kwargs: Mapping[str, Any] | None = None,
               mask: Callable[[str], str] | None = None) -> Outcome:
    """Call ``module:function(**kwargs)`` (the config's kwargs, then the run's parameter
    values over them): the module's allow-listing is checked before the
    job gets here (:func:`webapp.runs.switches.run_refusal`), the function by
    :func:`resolve_callable`.

    RQ's job timeout bounds the call. The return value, as text, is the run's output. The
    function may call :func:`worker.progress.report_progress`. It runs in the work horse,
    whose ``os.environ`` is already the job's (``env``): what it starts inherits that.

    Raises:
        JobRefused: the callable is not a public function defined in its module.
    """
    func = resolve_callable(config["callable"])
    log.info("run %s: calling %s", run_id, config["callable"])
    result = func(**{**(config.get("kwargs") or {}), **(kwargs or {})})
    text = "" if result is None else str(result)
    return Outcome(exit_code=None, output=tail(mask(text) if mask is not None else text, tail_bytes))


def resolve_callable(target: str) -> Callable[..., Any]:
    """The function ``module:name`` names, if it is a public plain function defined in
    that module itself: not a dunder (``__dir__``, ``__class__``), not a class or builtin,
    not a name the module only imported (``from subprocess import run``).

    Raises:
        JobRefused: naming why it is refused.
    """
    module_name, _, name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the module itself is broken or gone: the run says so
        raise JobRefused(f"python callable {target!r}: cannot import {module_name!r} ({exc})") from exc
    func = vars(module).get(name)  # its own namespace: no module-type attributes
    if (not name or name.startswith("_") or not inspect.isfunction(func)
            or func.__module__ != module_name
            or inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)):
        raise JobRefused(f"python callable {target!r}: not a public function defined in "
                        f"module {module_name!r}")
    return func


KINDS: dict[str, Callable[..., Outcome]] = {
    "shell": run_shell,
    "python": run_python,
}
