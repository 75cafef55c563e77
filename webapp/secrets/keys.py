"""The Fernet key ring secrets are encrypted with (``TASKPULSE_SECRETS_KEY``).

The ring is one or more Fernet keys, newest first, comma-separated: the first encrypts,
any of them decrypts (MultiFernet), which is what lets a key be rotated. It comes from
``TASKPULSE_SECRETS_KEY`` or, when that is unset, from the file
``TASKPULSE_SECRETS_KEY_FILE`` names (``make run``: instance/secrets_key, 0600). The file
is read at each use, not once at start: ``secrets rotate-key`` rewrites it, and the web
server and the workers already running must follow.
"""
from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet
from flask import current_app

from webapp.core.errors import ApiError

HOW_TO_FIX = ("set TASKPULSE_SECRETS_KEY to a Fernet key (python -c 'from cryptography.fernet "
              "import Fernet; print(Fernet.generate_key().decode())') or TASKPULSE_SECRETS_KEY_FILE "
              "to a file holding one")


class NoSecretsKey(ApiError):
    """No key ring is configured (or it is unreadable): secrets cannot be used."""

    status = 503
    code = "secrets_unavailable"


def parse_ring(text: str) -> list[bytes]:
    """The keys of a ring's text (comma- or newline-separated), newest first.

    Raises:
        NoSecretsKey: empty, or a key that is not a Fernet key (32 url-safe base64 bytes).
    """
    keys = [part.strip().encode() for part in text.replace("\n", ",").split(",") if part.strip()]
    if not keys:
        raise NoSecretsKey(f"the secrets key ring is empty: {HOW_TO_FIX}")
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise NoSecretsKey(f"the secrets key ring holds something that is not a Fernet key: "
                               f"{HOW_TO_FIX}") from None
    return keys


def ring_text() -> str:
    """The configured ring as text: ``SECRETS_KEY``, else the file's content.

    Raises:
        NoSecretsKey: neither is set, or the file cannot be read.
    """
    config = current_app.config
    if config.get("SECRETS_KEY"):
        return config["SECRETS_KEY"]
    path = config.get("SECRETS_KEY_FILE")
    if not path:
        raise NoSecretsKey(f"secrets are not configured on this server: {HOW_TO_FIX}")
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise NoSecretsKey(f"the secrets key file cannot be read ({exc.strerror})") from None


def ring() -> MultiFernet:
    """The MultiFernet of the configured ring (the first key encrypts)."""
    return MultiFernet([Fernet(key) for key in parse_ring(ring_text())])


def key_file() -> Path | None:
    """The key file, when the ring comes from one (and so can be rotated in place)."""
    config = current_app.config
    if config.get("SECRETS_KEY") or not config.get("SECRETS_KEY_FILE"):
        return None
    return Path(config["SECRETS_KEY_FILE"])


def write_ring(path: Path, keys: list[bytes]) -> None:
    """Replace the key file's ring atomically (a reader sees the old or the new, whole),
    readable by its owner only."""
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(",".join(key.decode() for key in keys) + "\n")
    os.replace(temporary, path)


def make_key_file(path: Path) -> Path:
    """Make ``path`` with a new key (0600) unless it exists and holds one."""
    if path.exists() and path.read_text().strip():
        return path
    write_ring(path, [Fernet.generate_key()])
    return path
