"""Every Socket.IO event and room name the server uses, declared once.

Clients rely on these spellings (docs/protocol.md); the server's modules and the
batching manager (:mod:`webapp.live.fanout`) take them from here.
"""
from __future__ import annotations

import re
from typing import Any

NAMESPACE = "/"
MESSAGE_QUEUE_CHANNEL = "flask-socketio"  # Flask-SocketIO's default channel

# Server events.
TASK_UPDATE = "task_update"        # a run's state changed (one per event row, with its seq)
TASK_UPDATES = "task_updates"      # a batch of task_update, for connections that asked
TASK_CHANGED = "task_changed"      # a task was created, updated or deleted
SCHEDULER_STATE = "scheduler_state"  # the global pause changed
SEQ_HEAD = "seq_head"              # the latest seq, so a client notices a missed tail
RUN_OUTPUT = "run_output"          # lines of a run's live log
AUDIT_ENTRY = "audit_entry"        # a new audit log entry (admins)
NOTIFICATION = "notification"      # an outbox row was created or changed (operators, admins)
TASK_ALERTS = "task_alerts"        # every watched task's alert badge (failing, late, overrunning)
WORKER_QUEUES = "worker_queues"    # live workers per run queue (0: no worker serves it)
CONCURRENCY = "concurrency"        # the concurrency limits per tag changed

# Rooms.
ALL_TASKS_ROOM = "tasks"
AUDIT_ROOM = "audit"
NOTIFICATIONS_ROOM = "notifications"
# Not a name ``subscribe`` accepts (see :func:`parse_room`), so only the subscribe
# handler puts a connection in it, and only together with room ``tasks``.
BATCH_ROOM = "tasks~batch"
_ROOM_ID = re.compile(r"[1-9][0-9]{0,11}")


def task_room(task_id: int) -> str:
    """The room that receives only one task's updates."""
    return f"task:{task_id}"


def run_room(run_id: int) -> str:
    """The room of one run's live output (``run_output``)."""
    return f"run:{run_id}"


def parse_room(room: Any) -> tuple[str, int | None] | None:
    """Return ("tasks", None), ("task", id) or ("run", id) for a valid room name, else None."""
    if room == ALL_TASKS_ROOM:
        return ("tasks", None)
    for prefix in ("task", "run"):
        if isinstance(room, str) and room.startswith(prefix + ":"):
            tail = room[len(prefix) + 1:]
            # Canonical ids only ("task:1", not "task:01" or "task:١"): events go to
            # exactly that spelling.
            if _ROOM_ID.fullmatch(tail):
                return (prefix, int(tail))
    return None
