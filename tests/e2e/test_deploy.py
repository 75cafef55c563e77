"""The deployment examples do what they say: the Procfile (as `make run` and honcho
start it) runs the whole system, and the systemd units pass systemd's own checks."""
from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from tests.support.processes import ADMIN, ROOT, VENV_BIN, Process, free_port, wait_until


def test_procfile_runs_web_worker_and_scheduler(redis_server, tmp_path):
    port = free_port()
    env = {
        "PATH": f"{VENV_BIN}:/usr/sbin:/usr/bin:/bin",
        "PORT": str(port),
        "REDIS_URL": redis_server.url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'procfile.db'}",
        "SECRET_KEY": "procfile-test-secret-0123456789abcdef",
        "PYTHONUNBUFFERED": "1",
    }
    # Only the set-up step reads ADMIN_PASSWORD; the Procfile's processes never get it.
    subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "db", "create"], cwd=ROOT,
                   env=dict(env, ADMIN_PASSWORD=ADMIN[1]), check=True, capture_output=True)
    honcho = Process("honcho", [str(VENV_BIN / "honcho"), "start", "-f", str(ROOT / "Procfile")], env, tmp_path)
    honcho.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ok(f"{base}/healthz"), 30, what="the Procfile's web process")
        task = requests.post(f"{base}/api/tasks", auth=ADMIN, timeout=10, json={
            "name": "procfile", "kind": "shell", "config": {"command": "echo from-procfile"},
            "schedule": {"type": "interval", "seconds": 1}}).json()
        run = requests.post(f"{base}/api/tasks/{task['id']}/run", auth=ADMIN, timeout=10).json()
        wait_until(lambda: requests.get(f"{base}/api/runs/{run['run_id']}", auth=ADMIN, timeout=5)
                   .json()["status"] == "success", 30, what="Run Now through the Procfile's worker")
        # The scheduler line fires the interval schedule.
        wait_until(lambda: any(r["trigger"] == "schedule" for r in requests.get(
            f"{base}/api/tasks/{task['id']}/runs", auth=ADMIN, timeout=5).json()["runs"]),
            30, what="a scheduled fire from the Procfile's scheduler")
    finally:
        honcho.stop(signal.SIGINT, timeout=30)
    output = honcho.output()
    assert "web.1" in output and "worker.1" in output and "scheduler.1" in output


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


@pytest.mark.parametrize("unit", ["taskpulse-web.service", "taskpulse-worker@.service", "taskpulse-queue@.service",
                                  "taskpulse-scheduler.service"])
def test_systemd_units_verify(unit, tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze (Debian's systemd package) is needed to check the units"
    text = (ROOT / "deploy" / "systemd" / unit).read_text().replace("/opt/taskpulse", str(ROOT))
    name = unit.replace("@.", "@1.")
    path: Path = tmp_path / name
    path.write_text(text)
    result = subprocess.run([analyze, "verify", "--man=no", str(path)], capture_output=True, text=True)
    problems = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not problems, problems
