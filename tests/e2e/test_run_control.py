"""Run control through the real system (issue 4): a Socket.IO server, a forking rq
worker, a scheduler (for the lost-run sweep) and python-socketio clients.

Stop mid-run and cancel while queued, timeouts, retries, progress and its throttle, the
live log tail through room ``run:<id>``, SIGKILL of the work horse and of the worker,
retention. The worker-killing tests come last: each leaves a fresh worker behind.
"""
from __future__ import annotations

import base64
import os
import signal
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
import socketio
from rq.job import Job
from rq.serializers import JSONSerializer

from tests.support.processes import ADMIN, VENV_BIN, Process, Stack, wait_until
from worker.procs import group_members, procs_key

PYTHON_MODULES = "worker.examples,tests.e2e.run_control_jobs"


@pytest.fixture(scope="module")
def rc(request, tmp_path_factory, redis_server, database_url):
    """Web + forking worker + scheduler, with this module's python jobs allowed."""
    workdir = tmp_path_factory.mktemp("run-control")
    redis_server.client().flushdb()
    stack = Stack(redis_server, workdir, async_mode="eventlet", database_url=database_url,
                  extra_env={"TASKPULSE_PYTHON_MODULES": PYTHON_MODULES,
                             # Short, so the vanished-job test need not wait 30 s.
                             "TASKPULSE_REQUEUE_AFTER_SECONDS": "2"})
    scheduler = Process(f"scheduler-{stack.port}", [str(VENV_BIN / "python"), "-m", "worker.scheduler"],
                        stack.env, workdir)
    try:
        stack.start()
        scheduler.start()
    except Exception:
        print(stack.logs())
        stack.stop()
        raise
    stack.scheduler = scheduler
    failed_before = request.session.testsfailed
    yield stack
    scheduler.stop()
    stack.stop()
    if request.session.testsfailed > failed_before:
        print(stack.logs())
        print(f"===== scheduler =====\n{scheduler.output()[-4000:]}")


# --- helpers ---------------------------------------------------------------------------


def run_now(stack, task_id: int) -> int:
    response = stack.api("POST", f"/tasks/{task_id}/run")
    assert response.status_code == 202, response.text
    return response.json()["run_id"]


def by_seq(events: list[dict]) -> list[dict]:
    return sorted(events, key=lambda e: e["seq"])


def is_progress(event: dict) -> bool:
    return event["status"] == "running" and event["progress"] is not None


def status_events(client, run_id: int) -> list[dict]:
    return [e for e in by_seq(client.run_events(run_id)) if not is_progress(e)]


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def max_in_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    return max((sum(1 for u in times[i:] if u - t < window) for i, t in enumerate(times)), default=0)


def marker() -> str:
    """A sleep duration no other process uses, to recognise our processes."""
    return f"30.{uuid.uuid4().int % 10**6:06d}"


def procs_of(redis_server, run_id: int, *need: str) -> dict[str, int]:
    """The run's recorded pids (``horse``, ``group``), once all of ``need`` are there."""
    def read():
        raw = redis_server.client().hgetall(procs_key(run_id))
        found = {k.decode(): int(v) for k, v in raw.items()}
        return found if all(k in found for k in need) else None
    return wait_until(read, 15, what=f"run {run_id} to record {need}")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


class OutputWatcher:
    """A python-socketio client in room ``run:<id>`` that records ``run_output``."""

    def __init__(self, url: str, run_id: int, after: int | None = None) -> None:
        self.url, self.run_id, self.after = url, run_id, after
        self.ack: dict[str, Any] | None = None
        self.messages: list[dict[str, Any]] = []
        self.lines: dict[int, dict[str, Any]] = {}
        self.cond = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("run_output", self._on_output)

    def connect(self) -> OutputWatcher:
        basic = base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
        self.sio.connect(self.url, transports=["websocket"], headers={"Authorization": f"Basic {basic}"},
                         wait_timeout=10)
        ack = self.sio.call("subscribe", {"room": f"run:{self.run_id}", "since": None, "after": self.after},
                            timeout=10)
        assert ack["ok"], ack
        with self.cond:
            self.ack = ack
            for line in ack["output"]["lines"]:
                self.lines.setdefault(line["n"], line)
            self.cond.notify_all()
        return self

    def _on_output(self, message: dict[str, Any]) -> None:
        with self.cond:
            self.messages.append(dict(message, _received=time.time()))
            for line in message["lines"]:
                self.lines.setdefault(line["n"], line)
            self.cond.notify_all()

    def wait_for_line(self, n: int, timeout: float = 20) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: n in self.lines, timeout):
                raise TimeoutError(f"line {n} of run {self.run_id} never came; have {sorted(self.lines)[-5:]}")

    def disconnect(self) -> None:
        self.sio.disconnect()


@pytest.fixture
def watchers():
    made: list[OutputWatcher] = []

    def make(url: str, run_id: int, after: int | None = None) -> OutputWatcher:
        watcher = OutputWatcher(url, run_id, after).connect()
        made.append(watcher)
        return watcher

    yield make
    for watcher in made:
        watcher.disconnect()


# --- stop and cancel -----------------------------------------------------------------


def test_stop_mid_run_ends_stopped_and_its_processes_are_gone(rc, live_client_factory, unique_name,
                                                              redis_server, watchers):
    client = live_client_factory(rc.base_url)
    sleep = marker()
    task = rc.create_task(unique_name, f"echo started; sleep {sleep} & sleep {sleep}; echo never")
    run_id = run_now(rc, task["id"])
    client.wait_status(run_id, "running")
    pids = procs_of(redis_server, run_id, "horse", "group")
    wait_until(lambda: len(group_members(pids["group"])) >= 3, 10, what="the command and its two sleeps")
    watchers(rc.base_url, run_id).wait_for_line(1, 10)  # "started" has reached Redis

    started = time.monotonic()
    response = rc.api("POST", f"/runs/{run_id}/stop")
    assert response.status_code == 202, response.text
    assert response.json() == {"run_id": run_id, "job_id": f"run-{run_id}", "action": "stop",
                               "status": "running"}
    final = client.wait_status(run_id, "stopped", timeout=15)
    took = time.monotonic() - started
    print(f"\nstop -> stopped event: {took * 1000:.0f} ms")
    assert [e["status"] for e in status_events(client, run_id)] == ["queued", "running", "stopped"]
    assert final["error"] == "stopped by an operator" and final["duration_ms"] is not None
    assert final["last_status"] == "stopped"

    wait_until(lambda: not group_members(pids["group"]), 10, what="the command's processes to end")
    wait_until(lambda: not alive(pids["horse"]), 10, what="the work horse to end")
    stored = rc.api("GET", f"/runs/{run_id}").json()
    assert stored["status"] == "stopped" and "started" in stored["output"] and "never" not in stored["output"]

    again = rc.api("POST", f"/runs/{run_id}/stop")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert rc.api("POST", "/runs/987654/stop").status_code == 404
    audit = rc.api("GET", "/audit?limit=20").json()["entries"]
    assert any(e["action"] == "stop" and e["changes"] == {"run_id": run_id} and e["username"] == "admin"
               for e in audit)
    # The worker is free again.
    ok = rc.create_task(unique_name + "-after", "true")
    client.wait_status(run_now(rc, ok["id"]), "success")


def test_cli_stops_a_running_run(rc, live_client_factory, unique_name, redis_server):
    client = live_client_factory(rc.base_url)
    task = rc.create_task(unique_name, f"sleep {marker()}")
    run_id = run_now(rc, task["id"])
    client.wait_status(run_id, "running")
    pids = procs_of(redis_server, run_id, "group")
    result = rc.flask("runs", "stop", str(run_id))
    assert f"stopping run {run_id}" in result.stdout
    client.wait_status(run_id, "stopped", timeout=15)
    wait_until(lambda: not group_members(pids["group"]), 10, what="the command to end")
    listed = rc.flask("runs", "list", unique_name).stdout
    assert f"{run_id:>6}  stopped" in listed


def test_cancel_while_queued_and_the_job_never_runs(rc, live_client_factory, unique_name, tmp_path,
                                                   redis_server):
    client = live_client_factory(rc.base_url)
    ran = tmp_path / "victim-ran"
    blocker = rc.create_task(unique_name + "-blocker", "sleep 3")
    victim = rc.create_task(unique_name + "-victim", f"touch {ran}")
    blocker_run = run_now(rc, blocker["id"])
    client.wait_status(blocker_run, "running")
    victim_run = run_now(rc, victim["id"])  # the only worker is busy: it stays queued

    response = rc.api("POST", f"/runs/{victim_run}/stop")
    assert response.status_code == 200, response.text
    assert response.json()["action"] == "cancel" and response.json()["status"] == "canceled"
    final = client.wait_status(victim_run, "canceled")
    assert final["error"] == "canceled by an operator" and final["started_at"] is None
    job = Job.fetch(f"run-{victim_run}", connection=redis_server.client(), serializer=JSONSerializer)
    assert job.get_status() == "canceled"

    client.wait_status(blocker_run, "success", timeout=20)
    # The worker is idle now: a job still on the queue would start at once, before the
    # probe queued after it, so its events would come before the probe's end.
    done = rc.create_task(unique_name + "-probe", "true")
    probe_end = client.wait_status(run_now(rc, done["id"]), "success")["seq"]
    logged = rc.api("GET", f"/events?since={client.acks[0]['head']}&limit=5000").json()["events"]
    assert [e["status"] for e in logged if e["run_id"] == victim_run] == ["queued", "canceled"]
    # The client has had every event up to the probe's end (events from several
    # processes may arrive out of order), so none of the victim's is still on its way.
    before_end = {e["seq"] for e in logged if e["seq"] <= probe_end}
    client.wait_for(lambda c: before_end <= c.seen, 10, "every event up to the probe's end")
    assert [e["status"] for e in status_events(client, victim_run)] == ["queued", "canceled"]
    assert not ran.exists()
    assert rc.api("POST", f"/runs/{victim_run}/stop").status_code == 409


# --- timeouts ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["shell", "python"])
def test_timeout_fails_and_says_after_how_long(rc, live_client_factory, unique_name, kind):
    client = live_client_factory(rc.base_url)
    if kind == "shell":
        task = rc.create_task(unique_name, "echo start; sleep 30", timeout=2)
    else:
        response = rc.api("POST", "/tasks", json={
            "name": unique_name, "kind": "python", "timeout": 2,
            "config": {"callable": "tests.e2e.run_control_jobs:slow", "kwargs": {"seconds": 30}}})
        assert response.status_code == 201, response.text
        task = response.json()
    run_id = run_now(rc, task["id"])
    final = client.wait_status(run_id, "failed", timeout=30)
    assert final["error"] == "timed out after 2 s"
    assert 1500 <= final["duration_ms"] < 10_000, final["duration_ms"]
    if kind == "shell":
        assert "start" in rc.api("GET", f"/runs/{run_id}").json()["output"]


# --- retries ---------------------------------------------------------------------------


def test_a_job_that_fails_twice_then_succeeds_under_retries(rc, live_client_factory, unique_name, tmp_path,
                                                           watchers):
    client = live_client_factory(rc.base_url)
    counter = tmp_path / "attempts"
    command = (f'n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; '
               f'echo "attempt $n"; [ "$n" -ge 3 ] || {{ echo "not yet ($n)" >&2; exit 1; }}')
    task = rc.create_task(unique_name, command, retries={"max": 2, "backoff": [1, 2]})
    run_id = run_now(rc, task["id"])
    final = client.wait_status(run_id, "success", timeout=40)

    events = status_events(client, run_id)
    assert [(e["status"], e["attempt"]) for e in events] == [
        ("queued", 1), ("running", 1), ("retrying", 1), ("running", 2), ("retrying", 2), ("running", 3),
        ("success", 3)]
    assert {e["max_attempts"] for e in events} == {3}
    retrying = [e for e in events if e["status"] == "retrying"]
    assert retrying[0]["error"] == "exit code 1: not yet (1)"
    assert retrying[1]["error"] == "exit code 1: not yet (2)"
    assert retrying[0]["last_status"] == "retrying" and retrying[0]["finished_at"] is None
    # The next attempt's time is announced, and kept (RQ's scheduler polls every second).
    # It counts from the failure, which lies between the attempt's `running` and the
    # `retrying` event (whose stamp is taken when it is published, later under load);
    # the event carries it in whole seconds.
    runnings = [e for e in events if e["status"] == "running"]
    for delay, began, wait, started in zip((1, 2), runnings, retrying, runnings[1:]):
        announced = at(wait["next_attempt_at"])
        assert at(began["emitted_at"]) + delay - 1 <= announced <= at(wait["emitted_at"]) + delay, wait
        assert at(started["emitted_at"]) >= announced - 1.0
        assert at(started["emitted_at"]) - announced < 3.0
    assert final["error"] is None and final["next_attempt_at"] is None
    assert counter.read_text().strip() == "3"
    run = rc.api("GET", f"/runs/{run_id}").json()
    assert run["attempt"] == 3 and run["max_attempts"] == 3 and "attempt 3" in run["output"]
    # The log numbers lines across attempts and marks each new attempt.
    log = watchers(rc.base_url, run_id).ack["output"]
    assert [line["text"] for line in log["lines"]] == [
        "attempt 1", "not yet (1)", "attempt 2 of 3", "attempt 2", "not yet (2)", "attempt 3 of 3",
        "attempt 3"]
    assert [line["n"] for line in log["lines"]] == list(range(1, 8)) and log["complete"]


def test_retries_run_out_and_the_run_fails(rc, live_client_factory, unique_name):
    client = live_client_factory(rc.base_url)
    task = rc.create_task(unique_name, "echo no >&2; exit 4", retries={"max": 1, "backoff": []})
    run_id = run_now(rc, task["id"])
    final = client.wait_status(run_id, "failed", timeout=30)
    assert [(e["status"], e["attempt"]) for e in status_events(client, run_id)] == [
        ("queued", 1), ("running", 1), ("retrying", 1), ("running", 2), ("failed", 2)]
    assert final["error"] == "exit code 4: no" and final["max_attempts"] == 2


def test_cancel_while_retrying_takes_the_waiting_attempt_off_rq(rc, live_client_factory, unique_name,
                                                                 redis_server):
    from rq.registry import ScheduledJobRegistry

    client = live_client_factory(rc.base_url)
    task = rc.create_task(unique_name, "exit 1", retries={"max": 2, "backoff": [30]})
    run_id = run_now(rc, task["id"])
    waiting = client.wait_status(run_id, "retrying", timeout=20)
    assert waiting["next_attempt_at"] is not None
    registry = ScheduledJobRegistry("taskpulse", connection=redis_server.client(), serializer=JSONSerializer)
    wait_until(lambda: f"run-{run_id}" in registry.get_job_ids(), 10, what="the retry to be scheduled")
    response = rc.api("POST", f"/runs/{run_id}/stop")
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    final = client.wait_status(run_id, "canceled")
    assert final["next_attempt_at"] is None and final["attempt"] == 1
    assert f"run-{run_id}" not in registry.get_job_ids()
    assert [e["status"] for e in status_events(client, run_id)] == ["queued", "running", "retrying", "canceled"]


# --- progress ------------------------------------------------------------------------


def check_progress(client, run_id: int, last: tuple[int, str]) -> list[dict]:
    events = by_seq(client.run_events(run_id))
    reports = [e for e in events if is_progress(e)]
    values = [e["progress"] for e in reports]
    assert len(reports) >= 3, values
    assert values == sorted(values), values
    assert (reports[-1]["progress"], reports[-1]["progress_message"]) == last
    assert max_in_window([at(e["emitted_at"]) for e in reports]) <= 4, [e["emitted_at"] for e in reports]
    final = events[-1]
    assert final["status"] == "success" and final["seq"] > reports[-1]["seq"] and final["progress"] == 100
    return reports


def test_shell_progress_lines_become_throttled_progress_events(rc, live_client_factory, unique_name):
    client = live_client_factory(rc.base_url)
    command = ('i=1; while [ $i -le 40 ]; do echo "::progress $((i * 100 / 40)) step $i of 40"; '
               'echo "work $i"; sleep 0.05; i=$((i + 1)); done')
    task = rc.create_task(unique_name, command)
    run_id = run_now(rc, task["id"])
    client.wait_status(run_id, "success", timeout=30)
    reports = check_progress(client, run_id, (100, "step 40 of 40"))
    print(f"\nshell: 40 progress lines in ~2 s -> {len(reports)} progress events")
    output = rc.api("GET", f"/runs/{run_id}").json()["output"]
    assert output.splitlines() == [f"work {i}" for i in range(1, 41)]  # progress lines left out


def test_python_report_progress_becomes_throttled_progress_events(rc, live_client_factory, unique_name):
    client = live_client_factory(rc.base_url)
    response = rc.api("POST", "/tasks", json={
        "name": unique_name, "kind": "python",
        "config": {"callable": "tests.e2e.run_control_jobs:stepped", "kwargs": {"steps": 30, "delay": 0.05}}})
    assert response.status_code == 201, response.text
    run_id = run_now(rc, response.json()["id"])
    client.wait_status(run_id, "success", timeout=30)
    reports = check_progress(client, run_id, (100, "step 30 of 30"))
    print(f"\npython: 30 reports in ~1.5 s -> {len(reports)} progress events")


# --- live log tail ---------------------------------------------------------------------


def test_log_lines_arrive_in_order_through_the_run_room_and_late_viewers_catch_up(
        rc, live_client_factory, unique_name, watchers):
    client = live_client_factory(rc.base_url)
    command = ('i=1; while [ $i -le 300 ]; do echo "line $i"; '
               '[ $((i % 30)) -eq 0 ] && sleep 0.2; i=$((i + 1)); done; echo "to stderr" >&2; sleep 1')
    task = rc.create_task(unique_name, command)
    run_id = run_now(rc, task["id"])
    early = watchers(rc.base_url, run_id)
    early.wait_for_line(100)
    late = watchers(rc.base_url, run_id)  # joins mid-run
    assert late.ack["output"]["lines"][0]["n"] == 1 and late.ack["output"]["last"] >= 100
    assert late.ack["output"]["complete"] is False
    client.wait_status(run_id, "success", timeout=30)
    early.wait_for_line(301)
    late.wait_for_line(301)

    expected = [f"line {i}" for i in range(1, 301)] + ["to stderr"]
    for watcher in (early, late):
        assert sorted(watcher.lines) == list(range(1, 302))
        assert [watcher.lines[n]["text"] for n in range(1, 302)] == expected
    assert early.lines[301]["stream"] == "stderr" and early.lines[1]["stream"] == "stdout"
    # Live messages: in order, at most 10 a second, each bounded.
    live = [line["n"] for m in early.messages for line in m["lines"]]
    assert live == sorted(live) and len(live) == len(set(live))
    assert max_in_window([at(m["emitted_at"]) for m in early.messages]) <= 10
    assert all(0 < len(m["lines"]) <= 500 and m["run_id"] == run_id for m in early.messages)
    print(f"\n301 lines in {len(early.messages)} run_output messages")

    after_end = watchers(rc.base_url, run_id)
    assert after_end.ack["output"]["complete"] is True and after_end.ack["run"]["status"] == "success"
    assert [line["text"] for line in after_end.ack["output"]["lines"]] == expected
    tail_only = watchers(rc.base_url, run_id, after=250)
    assert [line["n"] for line in tail_only.ack["output"]["lines"]] == list(range(251, 302))
    stored = rc.api("GET", f"/runs/{run_id}").json()
    assert stored["output"] == "\n".join(expected) + "\n" and stored["output_lines"] == 301


# --- retention ---------------------------------------------------------------------------


def test_prune_keeps_the_head_and_each_tasks_newest_run(rc, live_client_factory, unique_name):
    client = live_client_factory(rc.base_url)
    task = rc.create_task(unique_name, "true")
    first = run_now(rc, task["id"])
    client.wait_status(first, "success")
    second = run_now(rc, task["id"])
    client.wait_status(second, "success")
    head = rc.api("GET", "/events?since=0&limit=1").json()["head"]
    # Older than one second by the time prune looks: every event but the head, every
    # run but the newest (the second run's end, the head, came when the client saw it).
    seen_end = client.wait_status(second, "success")["_received"]
    wait_until(lambda: time.time() > seen_end + 1.05, 2, interval=0.02, what="the runs to be a second old")
    result = rc.flask("db", "prune", "--days", str(1 / 86400))  # older than one second
    pruned_runs = int(result.stdout.split()[1])
    assert pruned_runs >= 1, result.stdout
    assert [r["id"] for r in rc.api("GET", f"/tasks/{task['id']}/runs").json()["runs"]] == [second]
    after = rc.api("GET", "/events?since=0").json()
    assert after["head"] == head and [e["seq"] for e in after["events"]] == [head]
    third = run_now(rc, task["id"])
    final = client.wait_status(third, "success")
    assert final["seq"] > head


# --- lost runs (these kill the worker; each starts a fresh one) --------------------------


def test_sigkill_of_the_work_horse_fails_the_run_at_once(rc, live_client_factory, unique_name, redis_server,
                                                        watchers):
    client = live_client_factory(rc.base_url)
    task = rc.create_task(unique_name, f"echo up; sleep {marker()}")
    run_id = run_now(rc, task["id"])
    client.wait_status(run_id, "running")
    pids = procs_of(redis_server, run_id, "horse", "group")
    watchers(rc.base_url, run_id).wait_for_line(1, 10)  # "up" has reached Redis
    started = time.monotonic()
    os.kill(pids["horse"], signal.SIGKILL)
    final = client.wait_status(run_id, "failed", timeout=20)
    print(f"\nhorse SIGKILL -> failed: {(time.monotonic() - started) * 1000:.0f} ms")
    assert final["error"] == "worker lost: the work horse died (signal 9)"
    wait_until(lambda: not group_members(pids["group"]), 10, what="the orphaned command to end")
    assert "up" in rc.api("GET", f"/runs/{run_id}").json()["output"]
    ok = rc.create_task(unique_name + "-after", "true")
    client.wait_status(run_now(rc, ok["id"]), "success")  # the worker lives on


def test_sigkill_of_the_worker_alone_fails_the_run_through_its_horse(rc, live_client_factory, unique_name,
                                                                    redis_server):
    client = live_client_factory(rc.base_url)
    task = rc.create_task(unique_name, f"echo up; sleep {marker()}")
    run_id = run_now(rc, task["id"])
    client.wait_status(run_id, "running")
    pids = procs_of(redis_server, run_id, "horse", "group")
    worker = rc.workers[-1]
    started = time.monotonic()
    os.killpg(worker.pid, signal.SIGKILL)  # the worker and RQ's scheduler; the horse has its own group
    final = client.wait_status(run_id, "failed", timeout=20)
    took = time.monotonic() - started
    print(f"\nworker SIGKILL (horse alive) -> failed: {took * 1000:.0f} ms")
    assert final["error"] == "worker lost: the worker process died"
    wait_until(lambda: not alive(pids["horse"]) and not group_members(pids["group"]), 10,
               what="the horse and its command to end")
    worker.stop()
    rc.start_worker()


def test_sigkill_of_the_whole_worker_fails_the_run_within_60_s(rc, live_client_factory, unique_name,
                                                              redis_server, watchers):
    client = live_client_factory(rc.base_url)
    task = rc.create_task(unique_name, f"echo up; sleep {marker()}")
    run_id = run_now(rc, task["id"])
    client.wait_status(run_id, "running")
    watchers(rc.base_url, run_id).wait_for_line(1, 10)  # "up" has reached Redis before the freeze
    pids = procs_of(redis_server, run_id, "horse", "group")
    worker = rc.workers[-1]
    # As if the host died: freeze everything first so nothing can report, then kill it all.
    for kill in (lambda s: os.killpg(worker.pid, s), lambda s: os.kill(pids["horse"], s),
                 lambda s: os.killpg(pids["group"], s)):
        kill(signal.SIGSTOP)
    started = time.monotonic()
    for kill in (lambda s: os.killpg(worker.pid, s), lambda s: os.kill(pids["horse"], s),
                 lambda s: os.killpg(pids["group"], s)):
        kill(signal.SIGKILL)
    final = client.wait_status(run_id, "failed", timeout=60)
    took = time.monotonic() - started
    print(f"\nwhole worker SIGKILL -> failed (sweep): {took:.1f} s")
    assert took < 60
    assert final["error"] == f"worker lost: worker {worker.name} stopped responding"
    assert "up" in rc.api("GET", f"/runs/{run_id}").json()["output"]
    worker.stop()
    rc.start_worker()
    ok = rc.create_task(unique_name + "-after", "true")
    client.wait_status(run_now(rc, ok["id"]), "success")


def test_a_queued_run_whose_job_vanished_from_redis_is_queued_again(rc, live_client_factory, unique_name,
                                                                     redis_server):
    client = live_client_factory(rc.base_url)
    rc.workers[-1].stop()  # no worker: the run stays queued
    try:
        task = rc.create_task(unique_name, "echo recovered")
        run_id = run_now(rc, task["id"])
        client.wait_status(run_id, "queued")
        # As if Redis restarted without persistence: the job and its queue entry are gone.
        redis = redis_server.client()
        job_id = f"run-{run_id}"
        assert redis.delete(f"rq:job:{job_id}") == 1
        redis.lrem("rq:queue:taskpulse", 0, job_id)
    finally:
        rc.start_worker()
    started = time.monotonic()
    final = client.wait_status(run_id, "success", timeout=30)
    print(f"\nvanished job -> queued again and run: {time.monotonic() - started:.1f} s")
    assert final["job_id"] == job_id
    assert "recovered" in rc.api("GET", f"/runs/{run_id}").json()["output"]
    assert client.statuses(run_id) == ["queued", "running", "success"]


def waiting_on_its_queue(redis, pid: int, within: float) -> bool:
    """True when process ``pid`` has a Redis connection blocked in BLMOVE (an idle RQ
    worker waiting for a job) that it issued at most ``within`` seconds ago."""
    ports = {c.laddr.port for c in psutil.Process(pid).net_connections(kind="tcp") if c.laddr}
    return any(client.get("cmd") == "blmove" and int(client["idle"]) <= within
               and int(client["addr"].rsplit(":", 1)[1]) in ports
               for client in redis.client_list())


def test_a_job_taken_by_a_worker_killed_before_it_began_is_queued_again(rc, live_client_factory, unique_name,
                                                                        redis_server):
    # A worker stopped while it waits on its queue still gets the job from Redis (the
    # blocked BLMOVE is served), then dies before it can begin: the job sits in RQ's
    # intermediate list, no live worker holds it, and the run says queued.
    queue = f"takers-{uuid.uuid4().hex[:8]}"
    intermediate = f"rq:queue:{queue}:intermediate"
    redis = redis_server.client()
    client = live_client_factory(rc.base_url)
    taker = rc.start_worker(queues=(queue,))
    wait_until(lambda: waiting_on_its_queue(redis, taker.pid, within=3), 40, what="the taker waiting on its queue")
    os.kill(taker.pid, signal.SIGSTOP)
    try:
        task = rc.create_task(unique_name, "echo taken again", queue=queue)
        run_id = run_now(rc, task["id"])
        job_id = f"run-{run_id}"
        wait_until(lambda: redis.lpos(intermediate, job_id) is not None, 10, what="the job handed to the taker")
    finally:
        taker.stop(signal.SIGKILL)
    assert client.statuses(run_id) == ["queued"]
    assert redis.llen(f"rq:queue:{queue}") == 0
    second = rc.start_worker(queues=(queue,))
    try:
        started = time.monotonic()
        final = client.wait_status(run_id, "success", timeout=40)
        print(f"\ntaken by a dead worker -> queued again and run: {time.monotonic() - started:.1f} s")
    finally:
        second.stop()
    assert final["job_id"] == job_id
    assert "taken again" in rc.api("GET", f"/runs/{run_id}").json()["output"]
    assert client.statuses(run_id) == ["queued", "running", "success"]
