"""Run Now through the real system: HTTP -> RQ -> forking worker -> callbacks ->
Redis message queue -> Socket.IO server -> python-socketio clients."""
from __future__ import annotations

TERMINAL = {"success", "failed", "stopped", "canceled", "skipped"}


def run_now(stack, task_id: int) -> dict:
    response = stack.api("POST", f"/tasks/{task_id}/run")
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued" and body["job_id"] == f"run-{body['run_id']}"
    return body


def test_success_goes_queued_running_success_with_contract_payload(stack, live_client_factory, unique_name):
    client = live_client_factory(stack.base_url)
    task = stack.create_task(unique_name, "echo hello from taskpulse")
    run = run_now(stack, task["id"])

    final = client.wait_status(run["run_id"], "success")
    assert client.statuses(run["run_id"]) == ["queued", "running", "success"]
    assert set(final) - {"_replayed", "_received"} == {
        "seq", "task_id", "task_name", "run_id", "job_id", "status", "trigger", "progress",
        "queued_at", "started_at", "finished_at", "duration_ms", "error", "last_run_at",
        "next_run_at", "last_status", "emitted_at",
        "progress_message", "attempt", "max_attempts", "next_attempt_at",
        "parent_run_id", "waiting",  # chains and concurrency groups (issue 17)
    }
    assert final["parent_run_id"] is None and final["waiting"] is None
    assert final["task_name"] == unique_name and final["trigger"] == "manual"
    assert final["job_id"] == run["job_id"] and final["last_status"] == "success"
    assert final["duration_ms"] >= 0 and final["error"] is None
    assert final["emitted_at"].endswith("Z") and "." in final["emitted_at"]
    seqs = [e["seq"] for e in client.run_events(run["run_id"])]
    assert seqs == sorted(seqs)

    stored = stack.api("GET", f"/runs/{run['run_id']}").json()
    assert stored["status"] == "success" and stored["exit_code"] == 0
    assert "hello from taskpulse" in stored["output"]
    assert stack.api("GET", f"/tasks/{task['id']}").json()["last_status"] == "success"


def test_nonzero_exit_fails_with_stderr_tail(stack, live_client_factory, unique_name):
    client = live_client_factory(stack.base_url)
    task = stack.create_task(unique_name, "echo partial; echo 'disk is on fire' >&2; exit 3")
    run = run_now(stack, task["id"])
    final = client.wait_status(run["run_id"], "failed")
    assert client.statuses(run["run_id"]) == ["queued", "running", "failed"]
    assert final["error"].startswith("exit code 3") and "disk is on fire" in final["error"]
    stored = stack.api("GET", f"/runs/{run['run_id']}").json()
    assert stored["exit_code"] == 3 and "partial" in stored["output"]
    assert stack.api("GET", f"/tasks/{task['id']}").json()["last_error"] == final["error"]


def test_missing_command_fails_clearly(stack, live_client_factory, unique_name):
    client = live_client_factory(stack.base_url)
    task = stack.create_task(unique_name, "no-such-command-taskpulse --scan")
    run = run_now(stack, task["id"])
    final = client.wait_status(run["run_id"], "failed")
    assert "command not found" in final["error"]
    assert "no-such-command-taskpulse" in final["error"]


def test_timeout_fails_and_says_so(stack, live_client_factory, unique_name):
    client = live_client_factory(stack.base_url)
    task = stack.create_task(unique_name, "echo start; sleep 30", timeout=1)
    run = run_now(stack, task["id"])
    final = client.wait_status(run["run_id"], "failed", timeout=20)
    assert final["error"] == "timed out after 1 s"
    assert final["duration_ms"] < 10_000


def test_python_kind_runs_allowed_callable(stack, live_client_factory, unique_name):
    client = live_client_factory(stack.base_url)
    response = stack.api("POST", "/tasks", json={
        "name": unique_name, "kind": "python",
        "config": {"callable": "worker.examples:count_primes", "kwargs": {"limit": 100}},
    })
    assert response.status_code == 201, response.text
    run = run_now(stack, response.json()["id"])
    client.wait_status(run["run_id"], "success")
    assert stack.api("GET", f"/runs/{run['run_id']}").json()["output"] == "25 primes below 100"


def test_second_run_now_while_active_is_409(stack, live_client_factory, unique_name):
    client = live_client_factory(stack.base_url)
    task = stack.create_task(unique_name, "sleep 2")
    run = run_now(stack, task["id"])
    again = stack.api("POST", f"/tasks/{task['id']}/run")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    client.wait_status(run["run_id"], "success")
    assert stack.api("POST", f"/tasks/{task['id']}/run").status_code == 202


def test_replay_after_reconnect_with_since(stack, live_client_factory, unique_name):
    watcher = live_client_factory(stack.base_url)
    task = stack.create_task(unique_name, "true")
    first = run_now(stack, task["id"])
    watcher.wait_status(first["run_id"], "success")
    watcher.disconnect()
    missed = run_now(stack, task["id"])
    # Another client proves the missed run really finished while the first was away.
    other = live_client_factory(stack.base_url, room=f"task:{task['id']}")
    other.wait_for(lambda c: stack.api("GET", f"/runs/{missed['run_id']}").json()["status"] == "success",
                   20, "missed run to finish")
    watcher.connect()
    watcher.wait_status(missed["run_id"], "success")
    replayed = watcher.run_events(missed["run_id"])
    assert [e["status"] for e in replayed] == ["queued", "running", "success"]
    assert all(e["_replayed"] for e in replayed)
    seqs = [e["seq"] for e in watcher.events]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))


def test_rooms_deliver_exactly_their_events(stack, live_client_factory, unique_name):
    a = stack.create_task(unique_name + "-a", "true")
    b = stack.create_task(unique_name + "-b", "true")
    only_a = live_client_factory(stack.base_url, room=f"task:{a['id']}")
    only_b = live_client_factory(stack.base_url, room=f"task:{b['id']}")
    everything = live_client_factory(stack.base_url, room="tasks")
    run_a = run_now(stack, a["id"])
    run_b = run_now(stack, b["id"])
    everything.wait_status(run_a["run_id"], "success")
    everything.wait_status(run_b["run_id"], "success")
    only_a.wait_status(run_a["run_id"], "success")
    only_b.wait_status(run_b["run_id"], "success")
    assert {e["task_id"] for e in only_a.events} == {a["id"]}
    assert {e["task_id"] for e in only_b.events} == {b["id"]}
    assert only_a.statuses(run_a["run_id"]) == ["queued", "running", "success"]
    assert only_b.statuses(run_b["run_id"]) == ["queued", "running", "success"]
    # Room "tasks" got both runs, each event once.
    mine = [e for e in everything.events if e["task_id"] in (a["id"], b["id"])]
    assert len(mine) == 6 and len({e["seq"] for e in mine}) == 6


def test_long_polling_client_gets_updates(stack, live_client_factory, unique_name):
    client = live_client_factory(stack.base_url, transports=["polling"])
    assert client.sio.transport() == "polling"
    task = stack.create_task(unique_name, "true")
    run = run_now(stack, task["id"])
    client.wait_status(run["run_id"], "success")
    assert client.statuses(run["run_id"]) == ["queued", "running", "success"]
