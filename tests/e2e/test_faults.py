"""Faults with real processes: events whose publish was lost, Redis and server restarts."""
from __future__ import annotations

from tests.support.processes import free_port


def test_missed_tail_is_recovered_through_seq_head(eventlet_stack, live_client_factory, unique_name):
    """Events written while their publish failed reach a connected client anyway."""
    stack = eventlet_stack
    client = live_client_factory(stack.base_url)
    task = stack.create_task(unique_name, "true")
    # A process whose Redis is unreachable: the run and its events are committed, the
    # publishes are dropped, the enqueue fails and the run ends failed.
    dead_redis = dict(stack.env, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    stack.env, saved = dead_redis, stack.env
    try:
        result = stack.flask("tasks", "run", unique_name, check=False)
    finally:
        stack.env = saved
    assert result.returncode != 0 and "unavailable" in result.stderr
    final = client.wait_for(
        lambda c: next((e for e in c.events if e["task_id"] == task["id"] and e["status"] == "failed"), None),
        20, "the unpublished events to arrive through seq_head",
    )
    assert final["_replayed"] and "could not queue" in final["error"]
    assert [e["status"] for e in client.events if e["task_id"] == task["id"]] == ["queued", "failed"]
    assert client.resyncs >= 1
