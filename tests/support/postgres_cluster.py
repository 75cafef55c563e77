"""A private PostgreSQL cluster for tests that stop and start the database: Debian's
``initdb`` and ``pg_ctl`` (package ``postgresql``), a free loopback port, a temporary
directory, trust authentication, no Unix socket, no fsync.

PostgreSQL refuses to run as root; when the tests do (CI containers), the cluster's
programs run as the ``postgres`` user the Debian package creates (else ``nobody``),
through ``subprocess``'s own ``user=``: no sudo, su or runuser needed.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.processes import free_port, wait_until


class PostgresMissing(RuntimeError):
    """``initdb``/``pg_ctl`` are not installed (``make system-deps`` installs them)."""


def bindir() -> Path:
    """The directory of ``initdb`` and ``pg_ctl``: ``pg_config --bindir`` when it has
    them, else the newest /usr/lib/postgresql/<version>/bin, else the PATH."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        try:
            out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10)
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted((Path(p) for p in versions), key=lambda p: _version(p.parent.name), reverse=True)
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb")).resolve().parent)
    for path in candidates:
        if (path / "initdb").is_file() and (path / "pg_ctl").is_file():
            return path
    raise PostgresMissing("PostgreSQL's initdb and pg_ctl were not found (Debian package "
                          "'postgresql'; `make system-deps` installs it)")


def require_cluster() -> "PostgresCluster":
    """A started private cluster; when PostgreSQL is not installed the test fails under
    CI and ``make test`` (the suite must not pass by not running) and skips elsewhere."""
    import pytest

    from tests.conftest import strict

    try:
        cluster = PostgresCluster()
    except PostgresMissing as exc:
        if strict():
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        return cluster.start()
    except Exception:
        print(cluster.log()[-3000:])
        cluster.remove()
        raise


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def _unprivileged_user() -> pwd.struct_passwd | None:
    """Whom the cluster runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresMissing("running as root and there is no 'postgres' or 'nobody' user to run PostgreSQL as")


class PostgresCluster:
    """One cluster: ``start()`` (initdb the first time), ``stop()``, ``start()`` again on
    the same port and data; ``url`` names its database ``taskpulse``."""

    DATABASE = "taskpulse"

    def __init__(self) -> None:
        self.bin = bindir()
        self.port = free_port()
        self.user = _unprivileged_user()
        # Not under pytest's tmp_path: that is private to root, and the cluster's user
        # must be able to reach its directory.
        self.root = Path(tempfile.mkdtemp(prefix="taskpulse-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.DATABASE}"
        self._initialised = False

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C", "LC_ALL": "C",
               "HOME": str(self.root), "TZ": "UTC"}
        kwargs = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        result = subprocess.run([str(self.bin / args[0]), *args[1:]], cwd=self.root, env=env,
                                capture_output=True, text=True, timeout=timeout, **kwargs)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
                               f"\n{self.log()[-3000:]}")
        return result

    def start(self) -> "PostgresCluster":
        """Start the server (creating the cluster and its database the first time) and
        wait until it accepts connections."""
        if not self._initialised:
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                      "--locale=C", "--no-sync")
        # TCP on loopback only, no Unix socket (nothing to clean up, nothing shared);
        # no fsync: a test cluster is thrown away.
        options = f"-h 127.0.0.1 -p {self.port} -k '' -F -c max_connections=100"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options, "-w", "-t", "30", "start")
        wait_until(self.ready, 30, interval=0.1, what=f"PostgreSQL on port {self.port}")
        if not self._initialised:
            self._sql(f'CREATE DATABASE "{self.DATABASE}"')
            self._initialised = True
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: as a deploy's restart does, sessions are cut)."""
        if self.data.exists() and (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def ready(self) -> bool:
        try:
            self._sql("SELECT 1")
            return True
        except Exception:
            return False

    def _sql(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True, connect_timeout=2) as conn:
            conn.execute(statement)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def remove(self) -> None:
        """Stop (if running) and delete the cluster's directory."""
        try:
            self.stop("immediate")
        except Exception:
            pass
        shutil.rmtree(self.root, ignore_errors=True)
