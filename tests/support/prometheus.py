"""A real Prometheus (Debian's ``prometheus`` package) on a free loopback port, scraping
one target with a Bearer token and loading rule files; queried through its HTTP API."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.processes import Process, free_port, wait_until


def binary(name: str) -> str:
    """The path of ``name`` (prometheus, promtool): under CI a missing one fails."""
    from tests.conftest import strict

    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (make system-deps installs Debian's prometheus)"
        if strict():
            pytest.fail(message)
        pytest.skip(message)
    return found


class Prometheus:
    """``prometheus`` with a generated config: one job ``taskpulse`` every second."""

    def __init__(self, workdir: Path, target: str, token: str, rule_files: list[Path]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        token_file = workdir / "taskpulse.token"
        token_file.write_text(token)
        token_file.chmod(0o600)
        rules = "".join(f"  - {path}\n" for path in rule_files)
        self.config = workdir / "prometheus.yml"
        self.config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files:\n{rules}"
            "scrape_configs:\n  - job_name: taskpulse\n    metrics_path: /metrics\n"
            f"    authorization:\n      type: Bearer\n      credentials_file: {token_file}\n"
            f"    static_configs:\n      - targets: ['{target}']\n")
        self.process: Process | None = None

    def start(self) -> "Prometheus":
        self.process = Process(f"prometheus-{self.port}", [
            binary("prometheus"), f"--config.file={self.config}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ], dict(os.environ), self.workdir).start()
        wait_until(self._ready, 30, interval=0.2, what="prometheus to be ready")
        return self

    def _ready(self) -> bool:
        if not self.process.alive():
            raise RuntimeError(f"prometheus exited:\n{self.process.output()[-3000:]}")
        try:
            return requests.get(f"{self.url}/-/ready", timeout=1).ok
        except requests.RequestException:
            return False

    def query(self, expr: str) -> dict[str, Any]:
        """``/api/v1/query``'s whole answer (``status``, ``data`` or ``error``)."""
        return requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5).json()

    def values(self, expr: str) -> dict[tuple, float]:
        """{sorted labels (without the name, job and instance): value} of an instant query."""
        answer = self.query(expr)
        assert answer["status"] == "success", (expr, answer)
        return {tuple(sorted((k, v) for k, v in r["metric"].items() if k not in ("job", "instance", "__name__"))):
                float(r["value"][1]) for r in answer["data"]["result"]}

    def api(self, path: str) -> dict[str, Any]:
        return requests.get(f"{self.url}/api/v1/{path}", timeout=5).json()

    def stop(self) -> None:
        if self.process:
            self.process.stop()
