"""Python jobs for tests/e2e/test_worker_hardening.py (allowed only in that module's stack)."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path


def environment() -> str:
    """The names in this job's environment and in that of a process it starts, as JSON."""
    child = subprocess.run(["env"], capture_output=True, text=True, check=True).stdout
    return json.dumps({"own": dict(os.environ),
                       "child": dict(line.split("=", 1) for line in child.splitlines() if "=" in line)})


def greet(name: str = "world") -> str:
    """A plain job."""
    return f"hello {name}"


def make_file(path: str) -> str:
    """What a foreign job would do: leave a mark. It must never run."""
    Path(path).write_text("ran")
    return "ran"
