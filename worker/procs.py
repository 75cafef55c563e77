"""The processes behind a running job: the work horse and the process group of a shell
command (it leads its own session), recorded in Redis so that the worker (the work
horse's parent) can end them when the horse is killed: RQ's stop command and its
timeout backstop SIGKILL the horse's own group only, which would leave the command
running.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path

from redis import Redis

log = logging.getLogger(__name__)

KILL_GRACE_SECONDS = 2.0
RECORD_TTL = 8 * 24 * 3600  # longer than any job may run (a week), then forgotten

# The group of the shell command this work horse runs (for the horse itself).
_current_group: int | None = None


def procs_key(run_id: int) -> str:
    """The Redis hash ``{"horse": pid, "group": pgid}`` of a running run."""
    return f"taskpulse:run:{run_id}:procs"


def remember(connection: Redis, run_id: int, **pids: int) -> None:
    """Record pids of the run (``horse=``, ``group=``)."""
    global _current_group
    if "group" in pids:
        _current_group = pids["group"]
    key = procs_key(run_id)
    with connection.pipeline(transaction=False) as pipe:
        pipe.hset(key, mapping={name: str(pid) for name, pid in pids.items()})
        pipe.expire(key, RECORD_TTL)
        pipe.execute()


def recall(connection: Redis, run_id: int) -> dict[str, int]:
    """The recorded pids of the run (empty when none)."""
    raw = connection.hgetall(procs_key(run_id))
    return {k.decode(): int(v) for k, v in raw.items() if v.isdigit()}


def forget(connection: Redis, run_id: int, group_only: bool = False) -> None:
    """Drop the record (or just its group, once the command has ended)."""
    global _current_group
    _current_group = None
    if group_only:
        connection.hdel(procs_key(run_id), "group")
    else:
        connection.delete(procs_key(run_id))


def current_group() -> int | None:
    """The process group of the shell command this work horse is running, if any."""
    return _current_group


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of group ``pgid`` on this host."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # After the command name: state, ppid, pgrp, ...
        if len(fields) > 2 and fields[0] not in ("Z", "X") and fields[2] == str(pgid):
            members.append(int(entry.name))
    return members


def kill_group(pgid: int, grace: float = KILL_GRACE_SECONDS,
               leader: subprocess.Popen | None = None) -> None:
    """End process group ``pgid``: SIGTERM, up to ``grace`` seconds to exit, then SIGKILL
    (a child may ignore SIGTERM and keep running, and the output pipes open, after its
    shell has gone). With ``leader`` (the command we started, which leads the group) the
    grace ends when it exits, and it is reaped; else when the group is empty."""
    if pgid <= 1 or pgid == os.getpgrp():
        return
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    except PermissionError:
        log.warning("process group %s: not ours to kill", pgid)
        return
    if leader is not None:
        try:
            leader.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    else:
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and group_members(pgid):
            time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def recorded_group(connection: Redis, run_id: int) -> int | None:
    """The run's recorded shell process group, if any (None too when Redis is away)."""
    try:
        return recall(connection, run_id).get("group")
    except Exception:
        log.warning("run %s: could not read its process group from Redis", run_id)
        return None


def kill_recorded_group(connection: Redis, run_id: int, grace: float = KILL_GRACE_SECONDS,
                        pgid: int | None = None) -> bool:
    """Kill the run's shell process group (``pgid``, or the one recorded); True when
    there was one."""
    pgid = pgid or recorded_group(connection, run_id)
    if not pgid:
        return False
    log.info("run %s: ending process group %s of its command", run_id, pgid)
    kill_group(pgid, grace)
    try:
        forget(connection, run_id, group_only=True)
    except Exception:  # Redis away: the record expires on its own
        log.debug("run %s: process group record not dropped", run_id)
    return True
