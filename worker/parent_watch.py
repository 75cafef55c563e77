"""The work horse's watch on its parent: a work horse whose worker died (SIGKILL) has
nobody left to supervise or stop it, so it ends its command, fails the run ("worker
lost") and exits."""
from __future__ import annotations

import logging
import os
import threading
import time

from webapp.runs import output as live_output
from webapp.runs.state import update_task_status

from . import procs
from .context import app_context

log = logging.getLogger(__name__)

PARENT_CHECK_SECONDS = 0.5


def start(parent_pid: int, run_id: int) -> None:
    """In the work horse: if the worker dies (SIGKILL), end the command, fail the run
    ("worker lost") and exit, since nothing would supervise or stop this job any more."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        # Record the reason first: once the command is killed, the job itself would
        # report its death ("killed by signal 15") and win the race.
        try:
            with app_context() as flask_app:
                text, lines = live_output.stored_output(run_id, flask_app.config["OUTPUT_TAIL_BYTES"])
                update_task_status(run_id, "failed", error="worker lost: the worker process died",
                                   output=text, output_lines=lines)
        except Exception:
            log.exception("run %s: could not record the lost worker", run_id)
        finally:
            group = procs.current_group()
            if group:
                procs.kill_group(group, grace=1.0)
            os._exit(1)

    threading.Thread(target=watch, name="taskpulse-parent-watch", daemon=True).start()
