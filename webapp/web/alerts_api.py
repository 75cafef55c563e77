"""The alerts part of the JSON API (on the ``api`` blueprint): channels (admins edit,
everyone sees them masked) and the outbox (``GET /api/notifications?since=<id>``)."""
from __future__ import annotations

from flask import jsonify, request

from webapp.access.auth import requires
from webapp.alerts import channels, outbox
from webapp.core.errors import Conflict
from webapp.web.api import _actor, _int_arg, _json_body, bp


@bp.get("/channels")
@requires("viewer")
def list_channels():
    """Every channel, URLs masked (scheme and host only)."""
    return jsonify({"channels": [c.to_dict() for c in channels.list_channels()]})


@bp.post("/channels")
@requires("admin")
def create_channel():
    """Add a channel; 201 with it (masked). 400 naming ``url`` when Apprise cannot use it."""
    return jsonify(channels.create_channel(_json_body(), actor=_actor()).to_dict()), 201


@bp.get("/channels/<id:channel_id>")
@requires("viewer")
def get_channel(channel_id: int):
    """One channel, masked."""
    return jsonify(channels.get_channel(channel_id).to_dict())


@bp.patch("/channels/<id:channel_id>")
@requires("admin")
def update_channel(channel_id: int):
    """Change a channel's name, URL or enabled flag."""
    return jsonify(channels.update_channel(channel_id, _json_body(), actor=_actor()).to_dict())


@bp.delete("/channels/<id:channel_id>")
@requires("admin")
def delete_channel(channel_id: int):
    """Delete a channel (its past deliveries stay in the outbox)."""
    channels.delete_channel(channel_id, actor=_actor())
    return "", 204


@bp.post("/channels/<id:channel_id>/test")
@requires("admin")
def test_channel(channel_id: int):
    """Queue a test message: 202 with its outbox row, whose delivery follows live."""
    channel = channels.get_channel(channel_id)
    if not channel.enabled:
        raise Conflict(f"channel {channel.name!r} is switched off", "enabled")
    rows = outbox.add(outbox.Alert(kind="test", title=f"Taskpulse: test message to {channel.name}",
                                   body=f"Sent by {_actor()} from the Taskpulse API."), [channel.name])
    return jsonify(rows[0].to_dict() if rows else {}), 202


@bp.get("/notifications")
@requires("operator")
def list_notifications():
    """The outbox (operators and admins, as room ``notifications``): rows after
    ``since`` (oldest first), or the newest ``limit`` without it."""
    limit = _int_arg("limit", 200, 1, 1000)
    if request.args.get("since") is not None:
        rows = outbox.since(_int_arg("since", 0, 0, 2**62), limit)
    else:
        rows = outbox.recent(limit)
    return jsonify({"notifications": rows, "head": outbox.head()})
