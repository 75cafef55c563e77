"""Memory tracing for the soak's processes (``bench/soak.py --trace-memory``): with this
directory on PYTHONPATH and TASKPULSE_TRACEMALLOC_DIR set, every Python process starts
tracemalloc and, every TASKPULSE_TRACEMALLOC_SECONDS (60), appends to
``<dir>/<argv>-<pid>.txt`` the 25 allocation sites whose size grew most since its first
snapshot (taken one interval in, after start-up), so a process that grows names the
line that holds the memory.

Nothing here runs unless the variable is set; the product has no tracing code. The
thread is a real OS thread, started before eventlet patches anything: it keeps the
unpatched ``time.sleep``.
"""
from __future__ import annotations

import os
import sys
import threading
import time
import tracemalloc

_DIR = os.environ.get("TASKPULSE_TRACEMALLOC_DIR")
_SLEEP = time.sleep  # the real one, before any monkey-patching


def _snapshot() -> tracemalloc.Snapshot:
    return tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen *>"),
         tracemalloc.Filter(False, "<unknown>")])


def _trace(every: float) -> None:
    _SLEEP(every)
    name = os.path.basename(sys.argv[0]) if getattr(sys, "argv", None) and sys.argv[0] else "python"
    if name in ("-m", "-c") or name.endswith("__main__.py"):
        name = "-".join(part.replace("/", "_") for part in sys.argv[:3])[:60] or "python"
    path = os.path.join(_DIR, f"{name}-{os.getpid()}.txt")
    first = _snapshot()
    n = 0
    while True:
        _SLEEP(every)
        if os.getpid() != _OWNER:  # a forked work horse: only the worker itself reports
            return
        n += 1
        stats = _snapshot().compare_to(first, "lineno")
        current, peak = tracemalloc.get_traced_memory()
        with open(path, "a") as out:
            out.write(f"--- {time.strftime('%H:%M:%S')} snapshot {n}: traced {current / 2**20:.1f} MB "
                      f"(peak {peak / 2**20:.1f} MB)\n")
            for stat in stats[:25]:
                out.write(f"{stat}\n")


if _DIR:
    _OWNER = os.getpid()
    tracemalloc.start(int(os.environ.get("TASKPULSE_TRACEMALLOC_FRAMES", "1")))
    os.makedirs(_DIR, exist_ok=True)
    threading.Thread(target=_trace, daemon=True, name="tracemalloc",
                     args=(float(os.environ.get("TASKPULSE_TRACEMALLOC_SECONDS", "60")),)).start()
