"""The batching manager (webapp.live.fanout) leans on two python-socketio internals.
If an upgrade of python-socketio renames, re-signs or stops calling either, these tests
fail and name it, before any client silently stops getting its events."""
from __future__ import annotations

import importlib
import inspect

import pytest
import socketio

from webapp.live import fanout


def _resolve(dotted: str):
    module, owner, name = dotted.rsplit(".", 2)
    return getattr(getattr(importlib.import_module(module), owner), name, None)


@pytest.mark.parametrize("dotted", sorted(fanout.SOCKETIO_INTERNALS))
def test_each_internal_the_batching_manager_uses_is_still_there_with_its_signature(dotted):
    found = _resolve(dotted)
    assert found is not None, f"python-socketio {socketio.__version__} has no {dotted}: " \
                              "webapp.live.fanout must be adapted"
    signature = str(inspect.signature(found))
    assert signature == fanout.SOCKETIO_INTERNALS[dotted], \
        f"{dotted} is now {signature} in python-socketio {socketio.__version__}: adapt webapp.live.fanout"


def test_the_message_queue_still_hands_every_emit_to_handle_emit():
    """Local emits and the messages read from Redis both reach ``_handle_emit``; that is
    where the manager takes ``task_update`` over."""
    emit_source = inspect.getsource(socketio.PubSubManager.emit)
    thread_source = inspect.getsource(socketio.PubSubManager._thread)
    assert "self._handle_emit(message)" in emit_source, \
        "PubSubManager.emit no longer calls _handle_emit: adapt webapp.live.fanout"
    assert "_handle_emit" in thread_source, \
        "PubSubManager._thread no longer calls _handle_emit: adapt webapp.live.fanout"


def test_the_override_keeps_the_internal_signature():
    ours = inspect.signature(fanout.CoalescingRedisManager._handle_emit)
    assert list(ours.parameters) == ["self", "message"]
