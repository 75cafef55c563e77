"""Alert channels: an Apprise URL under a name. The URL is a secret: it is stored, used
to send, and otherwise only ever shown masked (``Channel.to_dict``), in the API, events,
the audit log and log lines alike."""
from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any
from urllib.parse import unquote, urlsplit

import apprise
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.access import audit
from webapp.core.errors import Conflict, NotFound, ValidationError
from webapp.core.extensions import db
from webapp.core.models import Channel, Task, masked_url

log = logging.getLogger(__name__)

MAX_URL = 2000
WRITABLE = ("name", "url", "enabled")


def _name(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= 80:
        raise ValidationError("must be a string of 1 to 80 characters", "name")
    name = value.strip()
    if any(unicodedata.category(c)[0] in ("C", "Z") and c != " " for c in name):
        raise ValidationError("must not contain control or separator characters", "name")
    return name


def _url(value: Any) -> str:
    """An Apprise URL that Apprise itself can load (so a typo fails on save, not at 2 am)."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_URL:
        raise ValidationError(f"must be an Apprise URL of at most {MAX_URL} characters", "url")
    url = value.strip()
    if any(unicodedata.category(c)[0] == "C" for c in url):
        raise ValidationError("must not contain control characters", "url")
    try:
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    except Exception:  # Apprise's parsers are not all hardened against every input
        plugin = None
    if plugin is None:
        raise ValidationError("Apprise cannot use this URL (unknown scheme or missing parts)", "url")
    return url


def _enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("must be true or false", "enabled")
    return value


def _body(data: Any, partial: bool) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object")
    unknown = sorted(set(data) - set(WRITABLE))
    if unknown:
        raise ValidationError(f"unknown or read-only field {unknown[0]!r}", unknown[0])
    out: dict[str, Any] = {}
    if "name" in data or not partial:
        out["name"] = _name(data.get("name"))
    if "url" in data or not partial:
        out["url"] = _url(data.get("url"))
    if "enabled" in data:
        out["enabled"] = _enabled(data["enabled"])
    return out


def list_channels() -> list[Channel]:
    """Every channel, by name."""
    return list(db.session.execute(select(Channel).order_by(Channel.name)).scalars())


def get_channel(channel_id: int) -> Channel:
    """The channel with this id, or NotFound."""
    channel = db.session.get(Channel, channel_id)
    if channel is None:
        raise NotFound(f"no channel with id {channel_id}")
    return channel


def find_channel(key: str) -> Channel | None:
    """The channel with this id (all digits) or else this name."""
    if key.isdigit() and len(key) <= 18:
        channel = db.session.get(Channel, int(key))
        if channel is not None:
            return channel
    return db.session.execute(select(Channel).where(Channel.name == key)).scalar()


def _audited(channel: Channel) -> dict[str, Any]:
    """What the audit log keeps of a channel: never the URL itself."""
    return {"name": channel.name, "url": masked_url(channel.url), "enabled": channel.enabled}


def _commit(name: str) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"a channel named {name!r} already exists", "name") from None


def create_channel(data: Any, actor: str = "system") -> Channel:
    """Validate and store a channel. Raises ValidationError (400) or Conflict (409)."""
    fields = _body(data, partial=False)
    if db.session.execute(select(Channel.id).where(Channel.name == fields["name"])).first():
        raise Conflict(f"a channel named {fields['name']!r} already exists", "name")
    channel = Channel(**fields)
    db.session.add(channel)
    db.session.flush()
    entry = audit.record(actor, "create", "channel", channel.id, channel.name, audit.diff({}, _audited(channel)))
    _commit(channel.name)
    audit.publish(entry)
    log.info("channel %s created (%s)", channel.name, masked_url(channel.url))
    return channel


def update_channel(channel_id: int, data: Any, actor: str = "system") -> Channel:
    """Change a channel's name, URL or enabled flag; a rename follows into every task's
    ``notify``. Raises NotFound, ValidationError or Conflict."""
    channel = get_channel(channel_id)
    fields = _body(data, partial=True)
    before, old_name, old_url = _audited(channel), channel.name, channel.url
    for key, value in fields.items():
        setattr(channel, key, value)
    if channel.name != old_name:
        _rename_in_tasks(old_name, channel.name)
    changes = audit.diff(before, _audited(channel))
    if channel.url != old_url and "url" not in changes:
        changes["url"] = ["(secret)", "(secret, changed)"]  # same scheme and host: say it changed
    entry = audit.record(actor, "update", "channel", channel.id, channel.name, changes) if changes else None
    _commit(channel.name)
    if entry is not None:
        audit.publish(entry)
    return channel


def delete_channel(channel_id: int, actor: str = "system") -> None:
    """Delete a channel and take its name out of every task's ``notify`` (so those
    tasks stay editable); its past deliveries stay in the outbox."""
    channel = get_channel(channel_id)
    _rename_in_tasks(channel.name, None)
    entry = audit.record(actor, "delete", "channel", channel.id, channel.name, audit.diff(_audited(channel), {}))
    db.session.delete(channel)
    db.session.commit()
    audit.publish(entry)


def _rename_in_tasks(old: str, new: str | None) -> None:
    for task in db.session.execute(select(Task).where(Task.notify.is_not(None))).scalars():
        names = list((task.notify or {}).get("channels") or [])
        if old in names:
            names = [new if n == old else n for n in names if n != old or new is not None]
            task.notify = dict(task.notify, channels=list(dict.fromkeys(names)))


def _secrets_of(url: str) -> list[str]:
    """The parts of ``url`` that may be secret (user, password, path, query values),
    longest first, so an error message can be scrubbed of them."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    pieces = [parts.username or "", parts.password or "", parts.netloc, parts.path, parts.query]
    pieces += re.split(r"[/?&=:@,]", f"{parts.path}?{parts.query}")
    pieces += [unquote(p) for p in pieces]
    return sorted({p for p in pieces if len(p) >= 3 and p != parts.hostname}, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """``text`` with every secret part of ``url`` replaced by ``***``."""
    for secret in [url, *_secrets_of(url)]:
        text = text.replace(secret, "***")
    return text


def send(url: str, title: str, body: str) -> str | None:
    """Send one message through Apprise; None when it went, else why not (scrubbed of
    the URL's secrets: this text is stored, shown and logged)."""
    sender = apprise.Apprise()
    if not sender.add(url):
        return "Apprise cannot use this channel's URL"
    with apprise.LogCapture(level=logging.WARNING) as captured:
        try:
            ok = sender.notify(title=title, body=body)
        except Exception as exc:  # a plugin bug must not kill the delivery job
            ok, extra = False, f"{type(exc).__name__}: {exc}"
        else:
            extra = ""
        lines = [line.strip() for line in captured.getvalue().splitlines() if line.strip()]
    if ok:
        return None
    reason = "; ".join(dict.fromkeys(lines + ([extra] if extra else []))) or "the channel refused the message"
    return scrub(reason, url)[:1000]
