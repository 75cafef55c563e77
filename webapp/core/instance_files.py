"""Files that hold secrets, readable by their owner only: the instance directory
(0700), the generated ``instance/secret_key`` and the SQLite database with its WAL and
shared-memory files (0600). The database holds password hashes, token digests and every
run's output; the key signs session cookies.

``python -m webapp.core.instance_files secret-key DIR`` prints DIR's key, making it first
(``make run`` uses it); ``secrets-key-file DIR`` does the same for the secrets' key ring
(``instance/secrets_key``) and prints its path."""
from __future__ import annotations

import base64
import os
import secrets
import stat
import sys
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from webapp.core.config import ROOT

DIR_MODE = 0o700
FILE_MODE = 0o600
DEFAULT_INSTANCE = ROOT / "instance"
# SQLite makes these beside the database, with the database file's permissions.
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """Make ``path`` (and missing parents) as 0700; an existing one is tightened to 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, DIR_MODE)
    return path


def _tighten(path: Path, mode: int) -> None:
    """Drop permission bits beyond ``mode`` (never adds any), when we own the file."""
    current = stat.S_IMODE(path.stat().st_mode)
    if current & ~mode:
        path.chmod(current & mode)


def _create_private(path: Path) -> bool:
    """Create an empty 0600 file unless one exists; True if this call made it. O_EXCL and
    the mode given to open() mean it is never readable by others, not even for a moment."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        return False
    return True


def sqlite_path(url: str | URL) -> Path | None:
    """The file a SQLite URL names, or None (another database, or an in-memory one)."""
    url = make_url(url) if isinstance(url, str) else url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" \
            or url.database.startswith("file:"):
        return None
    return Path(url.database).resolve()


def private_sqlite_file(url: str | URL) -> Path | None:
    """Before the first connection: the SQLite file of ``url`` exists as 0600 in a
    directory of its own user (a new directory is made 0700; Taskpulse's default
    ``instance/`` is tightened to 0700), and its side files are 0600. Databases made by
    an older release are tightened too. Other databases: nothing to do (None)."""
    path = sqlite_path(url)
    if path is None:
        return None
    if path.parent == DEFAULT_INSTANCE.resolve() or not path.parent.exists():
        private_dir(path.parent)
    _create_private(path)
    for candidate in (path, *(path.with_name(path.name + s) for s in _SQLITE_SIDE_FILES)):
        if candidate.exists():
            _tighten(candidate, FILE_MODE)
    return path


def secret_key(instance: Path = DEFAULT_INSTANCE) -> str:
    """The key kept in ``instance/secret_key`` (made on first use: 64 hex digits), with
    the directory 0700 and the file 0600, also when an older release made them."""
    private_dir(instance)
    path = instance / "secret_key"
    if _create_private(path) or not path.read_text().strip():
        path.write_text(secrets.token_hex(32) + "\n")
    _tighten(path, FILE_MODE)
    return path.read_text().strip()


def secrets_key_file(instance: Path = DEFAULT_INSTANCE) -> Path:
    """``instance/secrets_key``: the Fernet key ring secrets are encrypted with (made on
    first use: one key, 32 random bytes in url-safe base64, as Fernet.generate_key()
    makes them), 0600 in a 0700 directory. ``secrets rotate-key`` rewrites it."""
    private_dir(instance)
    path = instance / "secrets_key"
    if _create_private(path) or not path.read_text().strip():
        path.write_text(base64.urlsafe_b64encode(os.urandom(32)).decode() + "\n")
    _tighten(path, FILE_MODE)
    # Absolute: every process started from it (web, workers, scheduler) reads this path.
    return path.resolve()


def main(argv: list[str]) -> int:
    """``secret-key [DIR]``: print DIR's secret key (default: instance/), making it first;
    ``secrets-key-file [DIR]``: print the path of DIR's secrets key file, making it first."""
    commands = {"secret-key": secret_key, "secrets-key-file": secrets_key_file}
    if not argv or argv[0] not in commands or len(argv) > 2:
        print("usage: python -m webapp.core.instance_files secret-key|secrets-key-file [DIR]",
              file=sys.stderr)
        return 2
    print(commands[argv[0]](Path(argv[1]) if len(argv) == 2 else DEFAULT_INSTANCE))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
