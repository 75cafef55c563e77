"""The example host app (deploy/embedded/host_app.py) run as a legacy deployment runs it:
gunicorn with threads, Taskpulse mounted at /ops, plus a forking rq worker."""
from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.processes import ROOT, VENV_BIN, RedisServer, Stack

HOST_MODULE = "deploy.embedded.host_app"
PREFIX = "/ops"
# Host accounts: alice is a host admin (Taskpulse admin), bob is not (Taskpulse viewer).
ALICE = ("alice", "alice-host-password")
BOB = ("bob", "bob-host-password")


class HostAppStack(Stack):
    """``base_url`` is where Taskpulse is mounted; ``host_url`` the host app's root."""

    def __init__(self, redis_server: RedisServer, workdir: Path, database_url: str | None = None) -> None:
        super().__init__(redis_server, workdir, async_mode="threading", database_url=database_url)
        self.host_url = self.base_url
        self.base_url = f"{self.host_url}{PREFIX}"

    def host_flask(self, *args: str) -> subprocess.CompletedProcess:
        """``flask --app deploy.embedded.host_app ARGS``, as the host's operator types it."""
        return subprocess.run(
            [str(VENV_BIN / "flask"), "--app", HOST_MODULE, *args], cwd=ROOT, env=self.env,
            capture_output=True, text=True, check=True, timeout=120,
        )

    def start(self, workers: int = 1) -> "HostAppStack":
        self.host_flask("init-db", "--account", f"{ALICE[0]}:{ALICE[1]}:admin",
                        "--account", f"{BOB[0]}:{BOB[1]}")
        self.host_flask("taskpulse", "db", "upgrade")
        self.start_web()
        for _ in range(workers):
            self.start_worker()
        return self

    def server_command(self) -> list[str]:
        return [str(VENV_BIN / "gunicorn"), "-w", "1", "--threads", "100",
                "-b", f"127.0.0.1:{self.port}", f"{HOST_MODULE}:app"]
