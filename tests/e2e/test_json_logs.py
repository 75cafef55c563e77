"""TASKPULSE_LOG_FORMAT with real processes: a worker in json mode writes lines that
parse and name their run; an unknown format stops each process at start, saying why."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.support.processes import ROOT, VENV_BIN, wait_until


def test_a_json_worker_writes_lines_that_parse_and_name_the_run(eventlet_stack, unique_name):
    stack = eventlet_stack
    for worker in stack.workers:  # only the json worker may take the job
        worker.stop()
    worker = stack.start_worker(dict(stack.service_env(), TASKPULSE_LOG_FORMAT="json"))
    task = stack.create_task(unique_name, "echo hello")
    run = stack.api("POST", f"/tasks/{task['id']}/run").json()
    wait_until(lambda: stack.api("GET", f"/runs/{run['run_id']}").json()["status"] == "success", 30,
               what="the run to succeed")

    def lines() -> list[dict]:
        return [json.loads(line) for line in worker.output().splitlines() if line.strip()]

    about_run = wait_until(lambda: [x for x in lines() if x.get("run_id") == run["run_id"]], 10,
                           what="a worker line naming the run")
    assert {"time", "level", "logger", "message"} <= set(about_run[0])
    assert any(x.get("job_id") == run["job_id"] for x in about_run), about_run


@pytest.mark.parametrize("command", [
    ["python", "-m", "worker.scheduler"],
    ["python", "wsgi.py"],
    ["rq", "worker", "-c", "worker.rq_settings", "--burst", "taskpulse"],
])
def test_an_unknown_log_format_stops_the_process_with_a_clear_message(eventlet_stack, command):
    env = dict(eventlet_stack.service_env(), TASKPULSE_LOG_FORMAT="xml", PORT="1")
    result = subprocess.run([str(VENV_BIN / command[0]), *command[1:]], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "TASKPULSE_LOG_FORMAT must be one of plain, json, not 'xml'" in result.stderr
    assert "Traceback" not in result.stderr
