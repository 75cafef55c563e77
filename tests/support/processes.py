"""Real processes for whole-system tests: redis-server, the Socket.IO server, rq workers."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Callable

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


class RedisSentinelSet:
    """A Redis master, one replica and sentinels watching them, each a private
    redis-server on a free port, for ``REDIS_URL=redis+sentinel://...``.

    Offers ``url`` and ``client()`` as RedisServer does, so a Stack runs on it unchanged.
    The data nodes require a password and the sentinels do not, as the URL format
    assumes; short timeouts let a failover finish in seconds.
    """

    SERVICE = "taskpulse"
    PASSWORD = "sentinel-test-password"
    DOWN_AFTER_MS = 1000
    FAILOVER_TIMEOUT_MS = 5000

    def __init__(self, workdir: Path, sentinels: int = 3, db: int = 0) -> None:
        self.workdir = workdir
        self.db = db
        self.master_port, self.replica_port = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        self.url = f"redis+sentinel://:{self.PASSWORD}@{hosts}/{db}/{self.SERVICE}"
        self.nodes: dict[int, Process] = {}
        self.sentinels: list[Process] = []

    def start(self) -> "RedisSentinelSet":
        self._start_node(self.master_port)
        self._start_node(self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        wait_until(lambda: self.replication(self.replica_port).get("master_link_status") == "up", 15,
                   what="the replica to sync with the master")
        for port in self.sentinel_ports:
            self._start_sentinel(port)
        wait_until(self._sentinels_ready, 20, what="the sentinels to see the master, its replica and each other")
        return self

    def _start_node(self, port: int, *extra: str) -> None:
        workdir = self.workdir / f"redis-{port}"
        workdir.mkdir(exist_ok=True)
        self.nodes[port] = Process(
            f"redis-{port}",
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(workdir), "--requirepass", self.PASSWORD, "--masterauth", self.PASSWORD,
             # The first sync (and the one after a failover) starts at once, not after 5 s.
             "--repl-diskless-sync-delay", "0", *extra],
            dict(os.environ), self.workdir,
        ).start()

    def _start_sentinel(self, port: int) -> None:
        workdir = self.workdir / f"sentinel-{port}"
        workdir.mkdir(exist_ok=True)
        config = workdir / "sentinel.conf"  # sentinel rewrites it: one file each
        quorum = len(self.sentinel_ports) // 2 + 1
        config.write_text("\n".join([
            f"port {port}",
            "bind 127.0.0.1",
            f"dir {workdir}",
            f"sentinel monitor {self.SERVICE} 127.0.0.1 {self.master_port} {quorum}",
            f"sentinel auth-pass {self.SERVICE} {self.PASSWORD}",
            f"sentinel down-after-milliseconds {self.SERVICE} {self.DOWN_AFTER_MS}",
            f"sentinel failover-timeout {self.SERVICE} {self.FAILOVER_TIMEOUT_MS}",
            f"sentinel parallel-syncs {self.SERVICE} 1",
            "",
        ]))
        self.sentinels.append(Process(f"sentinel-{port}", ["redis-server", str(config), "--sentinel"],
                                      dict(os.environ), self.workdir).start())

    def _sentinel(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)

    def _sentinels_ready(self) -> bool:
        """Every sentinel knows the replica and the other sentinels: a failover can run."""
        try:
            states = [self._sentinel(port).sentinel_master(self.SERVICE) for port in self.sentinel_ports]
        except redis.RedisError:
            return False
        others = len(self.sentinel_ports) - 1
        return all(s["num-slaves"] >= 1 and s["num-other-sentinels"] >= others for s in states)

    def replication(self, port: int) -> dict:
        """``INFO replication`` of a data node ({} when it does not answer)."""
        try:
            return redis.Redis(port=port, password=self.PASSWORD, socket_timeout=1).info("replication")
        except redis.RedisError:
            return {}

    def master_addresses(self) -> list[tuple[str, int]]:
        """The master's address as each sentinel that answers reports it."""
        addresses = []
        for port in self.sentinel_ports:
            try:
                host, master = self._sentinel(port).sentinel_get_master_addr_by_name(self.SERVICE)
            except (redis.RedisError, TypeError):
                continue
            addresses.append((host, int(master)))
        return addresses

    def client(self) -> redis.Redis:
        """A client of the current master, found through the sentinels (redis-py's own
        Sentinel support, independent of Taskpulse's URL handling)."""
        sentinel = redis.sentinel.Sentinel([("127.0.0.1", port) for port in self.sentinel_ports],
                                           sentinel_kwargs={"socket_timeout": 1})
        return sentinel.master_for(self.SERVICE, db=self.db, password=self.PASSWORD, socket_timeout=5)

    def kill_master(self) -> int:
        """SIGKILL the master, as a lost host would, once the replica has every write;
        returns its port."""
        (_, port), = set(self.master_addresses())
        redis.Redis(port=port, password=self.PASSWORD, socket_timeout=5).wait(1, 5000)
        self.nodes[port].stop(signal.SIGKILL)
        return port

    def wait_for_failover(self, old_port: int, timeout: float = 30) -> int:
        """Wait until every sentinel names a new master and it acts as one; its port."""
        def promoted() -> int | None:
            addresses = self.master_addresses()
            if len(addresses) != len(self.sentinel_ports) or len(set(addresses)) != 1:
                return None
            (_, port) = addresses[0]
            if port == old_port or self.replication(port).get("role") != "master":
                return None
            return port
        return wait_until(promoted, timeout, interval=0.1, what="the sentinels to promote the replica")

    def stop(self) -> None:
        for process in self.sentinels:  # first, so no failover starts while the nodes stop
            process.stop()
        for process in self.nodes.values():
            process.stop()

    def logs(self) -> str:
        parts = [*self.nodes.values(), *self.sentinels]
        return "\n".join(f"===== {p.name} =====\n{p.output()[-3000:]}" for p in parts)


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
            SECRET_KEY="test-secret-of-the-e2e-stacks-0123456789",
            # The secrets' Fernet key ring (a fixed test key; `make run` makes one in instance/).
            TASKPULSE_SECRETS_KEY="eHtCVqrkhFISayv9ETbE8DPjQIlndkuT_xCXunMzzzw=",
            ADMIN_PASSWORD=ADMIN[1],
            # Many tests sign in from 127.0.0.1; the limit itself is tested on its own.
            TASKPULSE_LOGIN_RATE_LIMIT="1000 per minute",
            TASKPULSE_LOGIN_USER_RATE_LIMIT="1000 per minute",
            PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}",
            PYTHONWARNINGS="ignore::DeprecationWarning",
            PYTHONUNBUFFERED="1",
        )
        self.env.update(extra_env or {})
        self.web: Process | None = None
        self.workers: list[Process] = []
        # Run after the processes stop (e.g. dropping the stack's own database).
        self.cleanups: list[Callable[[], None]] = []

    def flask(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run ``flask --app wsgi ARGS`` against this stack's database and Redis."""
        return subprocess.run(
            [str(VENV_BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=self.env,
            capture_output=True, text=True, check=check, timeout=timeout,
        )

    def start(self, workers: int = 1, worker_class: str = "worker.runner.TaskpulseWorker") -> "Stack":
        self.flask("db", "upgrade")
        # The web server and the workers do not wait for each other: start them all,
        # then wait for each (a second or two less per stack, some seventy stacks a run).
        self.start_web(wait=False)
        names = [self.start_worker(worker_class=worker_class, wait=False).name for _ in range(workers)]
        wait_until(self._healthy, 30, what=f"web server on {self.base_url}")
        for name in names:
            wait_until(lambda: self._worker_registered(name), 30, what=f"rq worker {name}")
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

    def service_env(self) -> dict[str, str]:
        """The environment of the long-running processes: as `make run` starts them,
        without ADMIN_PASSWORD (only the set-up step, ``flask db upgrade``, reads it)."""
        return {name: value for name, value in self.env.items() if name != "ADMIN_PASSWORD"}

    def start_web(self, timeout: float = 30, wait: bool = True) -> Process:
        self.web = Process(f"web-{self.port}", self.server_command(), self.service_env(), self.workdir).start()
        if wait:
            wait_until(self._healthy, timeout, what=f"web server on {self.base_url}")
        return self.web

    def start_worker(self, env: dict[str, str] | None = None, queues: tuple[str, ...] = ("taskpulse",),
                     timeout: float = 30, worker_class: str = "worker.runner.TaskpulseWorker",
                     wait: bool = True) -> Process:
        """Start one more forking rq worker (with ``env`` instead of the usual one) serving
        ``queues`` (``taskpulse-alerts`` for the alerts worker of the Procfile);
        ``worker_class`` is for the benchmarks' instrumented subclass."""
        name = f"worker-{self.port}-{len(self.workers)}"
        worker = Process(name, [
            str(VENV_BIN / "rq"), "worker", "--worker-class", worker_class,
            # As the Procfile runs it: the connection from REDIS_URL (redis:// or redis+sentinel://).
            "--serializer", "rq.serializers.JSONSerializer", "-c", "worker.rq_settings",
            "--name", name, *queues,
        ], self.service_env() if env is None else env, self.workdir).start()
        self.workers.append(worker)
        if wait:
            wait_until(lambda: self._worker_registered(name), timeout, what=f"rq worker {name}")
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
        while self.cleanups:
            self.cleanups.pop()()

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
