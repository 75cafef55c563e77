"""Files that hold secrets are readable by their owner only, as an operator would check
with ``ls -l`` after the set-up steps `make run` takes: the instance directory 0700, the
generated ``secret_key`` and the SQLite database (with its WAL files) 0600, also where an
older release left them world-readable. SQLite's own files: left out of the PostgreSQL
pass by the ``sqlite_only`` marker."""
from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import ADMIN, ROOT, VENV_BIN

pytestmark = pytest.mark.sqlite_only


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run as a shell with the usual umask (022) would: new files 0644 unless we see to it."""
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True,
                          preexec_fn=lambda: os.umask(0o022))


def test_the_generated_secret_key_and_its_directory_are_private(tmp_path):
    instance = tmp_path / "instance"
    command = [str(VENV_BIN / "python"), "-m", "webapp.core.instance_files", "secret-key", str(instance)]
    key = run(command, dict(os.environ)).stdout.strip()
    assert len(key) == 64 and int(key, 16)
    assert mode(instance) == 0o700 and mode(instance / "secret_key") == 0o600
    assert run(command, dict(os.environ)).stdout.strip() == key  # kept across restarts


def test_make_run_takes_its_secret_key_from_there():
    script = (ROOT / "scripts" / "run-local.sh").read_text()
    assert "python -m webapp.core.instance_files secret-key instance" in script
    assert "> instance/secret_key" not in script


def test_make_run_makes_a_private_secrets_key_file_and_uses_it(tmp_path):
    from cryptography.fernet import Fernet

    instance = tmp_path / "instance"
    command = [str(VENV_BIN / "python"), "-m", "webapp.core.instance_files", "secrets-key-file", str(instance)]
    path = Path(run(command, dict(os.environ)).stdout.strip())
    assert path == (instance / "secrets_key").resolve()
    assert mode(instance) == 0o700 and mode(path) == 0o600
    key = path.read_text().strip()
    Fernet(key.encode())  # a real Fernet key
    assert run(command, dict(os.environ)).stdout.strip() == str(path) and path.read_text().strip() == key
    script = (ROOT / "scripts" / "run-local.sh").read_text()
    assert "python -m webapp.core.instance_files secrets-key-file instance" in script
    assert "export TASKPULSE_SECRETS_KEY_FILE" in script


def test_a_world_readable_key_left_by_an_older_release_is_tightened(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    (instance / "secret_key").write_text("ab" * 32 + "\n")
    (instance / "secret_key").chmod(0o644)
    instance.chmod(0o755)
    key = run([str(VENV_BIN / "python"), "-m", "webapp.core.instance_files", "secret-key", str(instance)],
              dict(os.environ)).stdout.strip()
    assert key == "ab" * 32
    assert mode(instance) == 0o700 and mode(instance / "secret_key") == 0o600


def test_db_upgrade_makes_the_sqlite_file_private_and_sqlite_keeps_it_so(tmp_path, redis_server):
    database = tmp_path / "new-dir" / "taskpulse.db"
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{database}", REDIS_URL=redis_server.url,
               ADMIN_PASSWORD=ADMIN[1], SECRET_KEY="instance-files-test-secret-0123456789",
               PYTHONWARNINGS="ignore::DeprecationWarning")
    env.pop("TASKPULSE_TEST_DATABASE_URL", None)
    run([str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"], env)
    assert mode(database.parent) == 0o700 and mode(database) == 0o600
    # Writes through the app (WAL mode) make -wal and -shm files: private too.
    run([str(VENV_BIN / "flask"), "--app", "wsgi", "users", "create", "wal-writer", "--password",
         "wal-writer-password"], env)
    side_files = [p for p in database.parent.iterdir() if p != database]
    assert all(mode(p) == 0o600 for p in side_files), {p.name: oct(mode(p)) for p in side_files}


def test_db_upgrade_tightens_a_world_readable_database_of_an_older_release(tmp_path, redis_server):
    database = tmp_path / "taskpulse.db"
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{database}", REDIS_URL=redis_server.url,
               ADMIN_PASSWORD=ADMIN[1], SECRET_KEY="instance-files-test-secret-0123456789",
               PYTHONWARNINGS="ignore::DeprecationWarning")
    database.touch()
    database.chmod(0o644)
    run([str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"], env)
    assert mode(database) == 0o600
