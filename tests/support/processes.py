"""Real processes for whole-system tests: redis-server, the Socket.IO server, rq workers."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import redis
import redis.sentinel
import requests

ROOT = Path(__file__).resolve().parents[2]
# The admin every test stack creates on its first run (ADMIN_PASSWORD).
ADMIN = ("admin", "admin-test-password")
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns truthy; raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Process:
    """A child process whose output goes to a log file kept for failure reports."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self._log: IO[bytes] | None = None
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Process":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        """Signal the process group and wait; SIGKILL if it lingers."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
            except ProcessLookupError:
                pass
        if self._log:
            self._log.close()
            self._log = None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class RedisServer:
    """A private redis-server on a free port; can be stopped and restarted in place."""

    def __init__(self, workdir: Path, appendonly: bool = False) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.appendonly = appendonly
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: Process | None = None

    def start(self) -> "RedisServer":
        self.process = Process(
            f"redis-{self.port}",
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.appendonly else "no", "--dir", str(self.workdir)],
            dict(os.environ), self.workdir,
        ).start()
        wait_until(self.ping, 10, what="redis-server to answer")
        return self

    def ping(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def stop(self) -> None:
        if self.process:
            self.process.stop()


class Stack:
    """Taskpulse as `make run` starts it: the Socket.IO server and a forking rq worker."""

    def __init__(self, redis_server: RedisServer, workdir: Path, async_mode: str = "eventlet",
                 database_url: str | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.redis = redis_server
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.async_mode = async_mode
        self.env = dict(os.environ)
        self.env.update(
            PORT=str(self.port),
            REDIS_URL=redis_server.url,
            DATABASE_URL=database_url or f"sqlite:///{workdir / 'taskpulse.db'}",
            ASYNC_MODE=async_mode,
            SECRET_KEY="test-secret",
            ADMIN_PASSWORD=ADMIN[1],
            # Many tests sign in from 127.0.0.1; the limit itself is tested on its own.
            TASKPULSE_LOGIN_RATE_LIMIT="1000 per minute",
            PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}",
            PYTHONWARNINGS="ignore::DeprecationWarning",
            PYTHONUNBUFFERED="1",
        )
        self.env.update(extra_env or {})
        self.web: Process | None = None
        self.workers: list[Process] = []

    def flask(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run ``flask --app wsgi ARGS`` against this stack's database and Redis."""
        return subprocess.run(
            [str(VENV_BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=self.env,
            capture_output=True, text=True, check=check, timeout=timeout,
        )

    def start(self, workers: int = 1) -> "Stack":
        self.flask("db", "create")
        self.start_web()
        for _ in range(workers):
            self.start_worker()
        return self

    def server_command(self) -> list[str]:
        """How the README deploys each async mode: eventlet with ``python wsgi.py``,
        threading with gunicorn's threads, gevent with gunicorn's gevent worker."""
        bind = f"127.0.0.1:{self.port}"
        if self.async_mode == "threading":
            return [str(VENV_BIN / "gunicorn"), "-w", "1", "--threads", "100", "-b", bind, "wsgi:app"]
        if self.async_mode == "gevent":
            return [str(VENV_BIN / "gunicorn"), "-k", "gevent", "-w", "1", "-b", bind, "wsgi:app"]
        return [str(VENV_BIN / "python"), "wsgi.py"]

    def start_web(self) -> Process:
        self.web = Process(f"web-{self.port}", self.server_command(), self.env, self.workdir).start()
        wait_until(self._healthy, 30, what=f"web server on {self.base_url}")
        return self.web

    def start_worker(self) -> Process:
        name = f"worker-{self.port}-{len(self.workers)}"
        worker = Process(name, [
            str(VENV_BIN / "rq"), "worker", "--worker-class", "worker.runner.TaskpulseWorker",
            "--serializer", "rq.serializers.JSONSerializer", "--url", self.redis.url,
            "--name", name, "taskpulse",
        ], self.env, self.workdir).start()
        self.workers.append(worker)
        wait_until(lambda: self._worker_registered(name), 30, what=f"rq worker {name}")
        return worker

    def _worker_registered(self, name: str) -> bool:
        return bool(self.redis.client().exists(f"rq:worker:{name}"))

    def _healthy(self) -> bool:
        if self.web is not None and not self.web.alive():
            raise RuntimeError(f"web server exited:\n{self.web.output()[-3000:]}")
        try:
            return requests.get(f"{self.base_url}/healthz", timeout=1).ok
        except requests.RequestException:
            return False

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self.web:
            self.web.stop()

    def logs(self) -> str:
        parts = [p for p in [self.web, *self.workers] if p]
        return "\n".join(f"===== {p.name} =====\n{p.output()[-4000:]}" for p in parts)

    # HTTP helpers, as a script would use the API.
    def api(self, method: str, path: str, auth=ADMIN, **kwargs) -> requests.Response:
        """Call the API as a script would (HTTP Basic as the admin unless ``auth`` says)."""
        return requests.request(method, f"{self.base_url}/api{path}", auth=auth, timeout=10, **kwargs)

    def create_task(self, name: str, command: str | None = None, **fields) -> dict:
        body = {"name": name, "kind": "shell", "config": {"command": command or "true"}}
        body.update(fields)
        response = self.api("POST", "/tasks", json=body)
        assert response.status_code == 201, response.text
        return response.json()
