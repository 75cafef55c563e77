"""Job kinds: how a task's ``config`` is executed. Register more in ``KINDS``."""
from __future__ import annotations

import importlib
import logging
import os
import signal
import subprocess
from dataclasses import dataclass
from typing import Any, Callable

log = logging.getLogger(__name__)

TAIL_LINES_IN_ERROR = 5
KILL_GRACE_SECONDS = 2


@dataclass
class Outcome:
    """What a successful job returns: kept with the run."""

    exit_code: int | None
    output: str


class JobFailed(Exception):
    """A job ended badly; ``message`` becomes the run's error."""

    def __init__(self, message: str, output: str = "", exit_code: int | None = None) -> None:
        super().__init__(message)
        self.output = output
        self.exit_code = exit_code


def tail(text: str, limit: int) -> str:
    """The last ``limit`` bytes of ``text``, cut at a character boundary."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return "…" + data[-limit:].decode("utf-8", "ignore")


def _last_lines(text: str, count: int = TAIL_LINES_IN_ERROR) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-count:])


def _combine(stdout: str, stderr: str) -> str:
    """stdout then stderr, as one text with a newline between them."""
    if stdout and stderr and not stdout.endswith("\n"):
        stdout += "\n"
    return stdout + stderr


def _kill_group(proc: subprocess.Popen) -> None:
    """Stop the command and everything it started (it leads its own session): SIGTERM,
    a short grace, then SIGKILL to the whole group, since a child may ignore SIGTERM
    and keep the output pipes open after the shell itself has gone."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(KILL_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_shell(config: dict[str, Any], timeout: int, run_id: int, tail_bytes: int) -> Outcome:
    """Run ``config["command"]`` with ``/bin/sh -c`` as cron does.

    Raises:
        JobFailed: non-zero exit (error: exit code and the stderr tail) or timeout.
    """
    command = config["command"]
    log.info("run %s: sh -c %r", run_id, command[:200])
    proc = subprocess.Popen(
        ["/bin/sh", "-c", command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # a grandchild left the group and holds the pipes
            proc.kill()
            out, err = b"", b""
        output = tail(_combine(out.decode("utf-8", "replace"), err.decode("utf-8", "replace")), tail_bytes)
        raise JobFailed(f"timed out after {timeout} s", output=output) from None
    stdout, stderr = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    output = tail(_combine(stdout, stderr), tail_bytes)
    code = proc.returncode
    log.info("run %s: exit code %s", run_id, code)
    if code == 0:
        return Outcome(exit_code=0, output=output)
    if code < 0:
        reason = f"killed by signal {-code}"
    elif code == 127:
        reason = "exit code 127 (command not found)"
    else:
        reason = f"exit code {code}"
    detail = _last_lines(stderr) or _last_lines(stdout)
    raise JobFailed(f"{reason}: {detail}" if detail else reason, output=output, exit_code=code)


def run_python(config: dict[str, Any], timeout: int, run_id: int, tail_bytes: int) -> Outcome:
    """Call ``module:function(**kwargs)``; the module was allow-listed when the task was saved.

    RQ's job timeout bounds the call. The return value, as text, is the run's output.
    """
    module_name, func_name = config["callable"].split(":", 1)
    log.info("run %s: calling %s", run_id, config["callable"])
    func: Callable[..., Any] = getattr(importlib.import_module(module_name), func_name)
    result = func(**(config.get("kwargs") or {}))
    return Outcome(exit_code=None, output=tail("" if result is None else str(result), tail_bytes))


KINDS: dict[str, Callable[[dict[str, Any], int, int, int], Outcome]] = {
    "shell": run_shell,
    "python": run_python,
}
