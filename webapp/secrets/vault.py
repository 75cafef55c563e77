"""Secrets: named values stored as Fernet tokens, set and removed by admins (API, page,
CLI) and opened only by the worker, at run time, for the run that refers to them.

Nothing here returns a value to a caller that could show it: :func:`list_secrets` and
the audit entries hold names only; :func:`reveal` is for the worker.
"""
from __future__ import annotations

import json
import re
from typing import Any

from cryptography.fernet import InvalidToken
from sqlalchemy import func, select

from webapp.access import audit
from webapp.core.errors import ApiError, NotFound, ValidationError
from webapp.core.extensions import db
from webapp.core.models import Secret, TaskRun
from webapp.core.timeutil import utcnow
from webapp.secrets import keys

NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Bounds of what an admin may store: a value ends up in a job's environment, where one
# string may be at most 128 KiB (Linux), and the whole environment must fit beside it.
MAX_VALUE_BYTES = 16 * 1024
MAX_SECRETS = 500


class SecretUnreadable(ApiError):
    """A stored token does not open with the configured key ring."""

    status = 500
    code = "secret_unreadable"


def check_name(name: Any, field: str = "name") -> str:
    """``name`` if it is a valid secret name (``[A-Za-z0-9_.-]{1,64}``), else ValidationError."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValidationError("a secret name is 1 to 64 of A-Z a-z 0-9 _ . -", field)
    return name


def check_value(value: Any) -> str:
    """``value`` if it is a storable secret value, else ValidationError (field ``value``)."""
    if not isinstance(value, str) or not value:
        raise ValidationError("must be a non-empty string", "value")
    if "\x00" in value:
        raise ValidationError("must not contain NUL characters", "value")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValidationError("contains invalid Unicode (a lone surrogate)", "value") from None
    if size > MAX_VALUE_BYTES:
        raise ValidationError(f"must be at most {MAX_VALUE_BYTES} bytes", "value")
    return value


def encrypt(text: str) -> str:
    """``text`` as a Fernet token under the ring's newest key."""
    return keys.ring().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str, what: str) -> str:
    """Open a token made by :func:`encrypt`.

    Raises:
        SecretUnreadable: naming ``what``, when no key of the ring opens it.
    """
    try:
        return keys.ring().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise SecretUnreadable(f"{what} cannot be decrypted with the configured secrets key "
                               f"(was TASKPULSE_SECRETS_KEY changed without rotate-key?)") from None


def list_secrets() -> list[Secret]:
    """Every secret, by name (the rows' ``to_dict`` has no value)."""
    return list(db.session.execute(select(Secret).order_by(Secret.name)).scalars())


def existing_names(names: list[str]) -> set[str]:
    """Which of ``names`` are stored secrets."""
    if not names:
        return set()
    return set(db.session.execute(select(Secret.name).where(Secret.name.in_(names))).scalars())


def set_secret(name: Any, value: Any, actor: str) -> tuple[Secret, bool]:
    """Store (create or replace) a secret, audited as ``actor`` with its name only.

    Returns the row and True when it was created.

    Raises:
        ValidationError: bad name or value, or too many secrets.
        NoSecretsKey: no key ring is configured.
    """
    name, value = check_name(name), check_value(value)
    token = encrypt(value)
    row = db.session.execute(select(Secret).where(Secret.name == name)).scalar()
    created = row is None
    if created:
        if db.session.execute(select(func.count(Secret.id))).scalar() >= MAX_SECRETS:
            raise ValidationError(f"at most {MAX_SECRETS} secrets may be stored", "name")
        row = Secret(name=name, value=token, updated_by=actor)
        db.session.add(row)
    else:
        row.value, row.updated_at, row.updated_by = token, utcnow(), actor
    db.session.flush()
    # The audit entry says which secret and who: never the value, not even a digest.
    entry = audit.record(actor, "create" if created else "update", "secret", row.id, name, None)
    db.session.commit()
    audit.publish(entry)
    return row, created


def delete_secret(name: str, actor: str) -> None:
    """Remove a secret (tasks referring to it then fail their runs, saying which).

    Raises:
        NotFound: no such secret.
    """
    row = db.session.execute(select(Secret).where(Secret.name == name)).scalar()
    if row is None:
        raise NotFound(f"no secret named {name[:64]!r}")
    entry = audit.record(actor, "delete", "secret", row.id, row.name, None)
    db.session.delete(row)
    db.session.commit()
    audit.publish(entry)


def reveal(name: str) -> str | None:
    """The plaintext of secret ``name`` (None when there is no such secret): for the
    worker, building a job's environment, and nothing else."""
    token = db.session.execute(select(Secret.value).where(Secret.name == name)).scalar()
    return None if token is None else decrypt(token, f"secret {name!r}")


def seal_params(values: dict[str, Any]) -> str | None:
    """A run's secret parameter values as one token (None when there are none)."""
    return encrypt(json.dumps(values)) if values else None


def open_params(token: str | None, run_id: int) -> dict[str, Any]:
    """The secret parameter values :func:`seal_params` sealed for run ``run_id``."""
    return json.loads(decrypt(token, f"the secret parameters of run {run_id}")) if token else {}


def rotate(actor: str) -> int:
    """Re-encrypt every stored token (secrets and runs' secret parameters) under the
    ring's newest key, in one transaction; audited. Returns how many were rotated.

    Raises:
        SecretUnreadable: a token no key of the ring opens (nothing is changed).
    """
    ring = keys.ring()
    count = 0
    try:
        for row in db.session.execute(select(Secret)).scalars():
            row.value = ring.rotate(row.value.encode("ascii")).decode("ascii")
            count += 1
        for run in db.session.execute(select(TaskRun).where(TaskRun.secret_params.is_not(None))).scalars():
            run.secret_params = ring.rotate(run.secret_params.encode("ascii")).decode("ascii")
            count += 1
    except InvalidToken:
        db.session.rollback()
        raise SecretUnreadable("a stored value cannot be decrypted with any key of the ring; "
                               "nothing was rotated") from None
    entry = audit.record(actor, "rotate-key", "secret", None, None, {"rotated": count})
    db.session.commit()
    audit.publish(entry)
    return count
