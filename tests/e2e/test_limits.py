"""The limits of design.md against the real system (eventlet server process, forking rq
worker): a long cron expression is refused at once, a run with long lines gives a
``subscribe`` ack under 256 KiB that ends with the run's newest line, and the 21st
subscribe within 10 s on one connection is refused with a reason."""
from __future__ import annotations

import json
import time

import socketio

from tests.support.live_client import LiveClient
from tests.support.processes import wait_until

ACK_MAX_BYTES = 256 * 1024
LONG_LINES = "i=1; while [ $i -le 1000 ]; do printf '%06d%08000d\\n' $i 0; i=$((i+1)); done"


def test_a_4000_character_cron_expression_is_refused_quickly(eventlet_stack):
    expr = ",".join(["1"] * 2000)[:3990] + " * * * *"
    started = time.monotonic()
    response = eventlet_stack.api("GET", "/schedule/preview", params={"cron": expr})
    assert time.monotonic() - started < 1.0
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "cron" and "at most 200" in response.json()["error"]["message"]


def test_a_run_of_long_lines_gives_a_bounded_ack_with_its_newest_lines(eventlet_stack, unique_name):
    task = eventlet_stack.create_task(unique_name, LONG_LINES)
    run_id = eventlet_stack.api("POST", f"/tasks/{task['id']}/run").json()["run_id"]
    wait_until(lambda: eventlet_stack.api("GET", f"/runs/{run_id}").json()["status"] == "success", 60,
               what="the run to finish")
    viewer = LiveClient(eventlet_stack.base_url).connect()
    try:
        ack = viewer.sio.call("subscribe", {"room": f"run:{run_id}", "after": None}, timeout=10)
        assert ack["ok"] is True
        assert len(json.dumps(ack, separators=(",", ":")).encode()) <= ACK_MAX_BYTES
        lines = ack["output"]["lines"]
        assert lines[-1]["text"].startswith("001000") and ack["output"]["truncated"] is True
        assert ack["output"]["complete"] is True
    finally:
        viewer.disconnect()


def test_the_21st_subscribe_within_10_s_is_refused_and_the_connection_stays(eventlet_stack):
    client = socketio.Client(reconnection=False)
    client.connect(eventlet_stack.base_url, transports=["websocket"], wait_timeout=10,
                   headers=LiveClient(eventlet_stack.base_url).headers)
    try:
        acks = [client.call("subscribe", {"room": "tasks", "since": None}, timeout=10) for _ in range(21)]
        assert [ack["ok"] for ack in acks[:20]] == [True] * 20
        assert acks[20] == {"ok": False, "error": acks[20]["error"]}
        assert acks[20]["error"].startswith("rate limited: at most 20 subscribes per 10 s")
        assert client.connected
    finally:
        client.disconnect()
