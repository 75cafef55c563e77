"""The start-up check of SECRET_KEY: a placeholder or short key lets anyone who reads
our examples forge session cookies, so a process with one refuses to start."""
from __future__ import annotations

import os
from typing import Mapping

# Values from our own examples and common tutorials.
PLACEHOLDER_SECRET_KEYS = frozenset({
    "change-me-to-a-long-random-string", "change-me", "changeme", "secret", "secret-key",
    "secretkey", "your-secret-key", "dev", "development", "test", "testing",
})
MIN_SECRET_KEY_LENGTH = 32
HOW_TO_FIX = "set it to a long random value, e.g. python3 -c 'import secrets; print(secrets.token_hex(32))'"


class InsecureSecretKey(RuntimeError):
    """SECRET_KEY was set, but to a placeholder or to something too short."""


def check_secret_key(env: Mapping[str, str] = os.environ) -> None:
    """Refuse an explicitly set SECRET_KEY that is a known placeholder or shorter than
    32 characters. Unset is fine: the process then makes a random key of its own (and
    ``make run`` keeps a generated one in instance/secret_key).

    Raises:
        InsecureSecretKey: the message names SECRET_KEY and how to make a good one.
    """
    value = env.get("SECRET_KEY")
    if not value:
        return
    folded = value.strip().lower()
    if folded in PLACEHOLDER_SECRET_KEYS or "change-me" in folded or "changeme" in folded:
        raise InsecureSecretKey(f"SECRET_KEY is a placeholder, so anyone could forge sessions: {HOW_TO_FIX}")
    if len(value) < MIN_SECRET_KEY_LENGTH:
        raise InsecureSecretKey(f"SECRET_KEY is {len(value)} characters long; at least "
                                f"{MIN_SECRET_KEY_LENGTH} are needed: {HOW_TO_FIX}")
