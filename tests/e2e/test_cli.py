"""The command line against the real system: `flask --app wsgi ...` and `rq info`."""
from __future__ import annotations

import json
import subprocess

from tests.support.processes import ADMIN, ROOT, VENV_BIN


def test_tasks_create_list_run_and_events_watch(eventlet_stack, unique_name):
    stack = eventlet_stack
    created = stack.flask("tasks", "create", unique_name, "--command", "echo from-cli")
    assert "created task" in created.stdout
    listing = stack.flask("tasks", "list")
    assert unique_name[:32] in listing.stdout

    # The terminal twin of the page: it must print the run's events as they happen.
    watch = subprocess.Popen(
        [str(VENV_BIN / "flask"), "--app", "wsgi", "events", "watch", "--url", stack.base_url,
         "--json", "--count", "3", "--user", ADMIN[0], "--password", ADMIN[1]],
        cwd=ROOT, env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # The watcher prints "# connected" on stderr once subscribed; read it before running.
        assert "# connected" in watch.stderr.readline()
        ran = stack.flask("tasks", "run", unique_name)
        assert ran.stdout.startswith("queued run ")
        out, _ = watch.communicate(timeout=30)
    finally:
        watch.kill()
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["status"] for e in events] == ["queued", "running", "success"]
    assert {e["task_name"] for e in events} == {unique_name}


def test_cli_errors_are_messages_not_tracebacks(eventlet_stack, unique_name):
    result = eventlet_stack.flask("tasks", "run", "no such task at all", check=False)
    assert result.returncode != 0
    assert "no task with id or name" in result.stderr and "Traceback" not in result.stderr
    result = eventlet_stack.flask("tasks", "create", unique_name, "--command", "  ", check=False)
    assert result.returncode != 0 and "config.command" in result.stderr
    result = eventlet_stack.flask("events", "watch", "--url", "http://127.0.0.1:9",
                                  "--user", ADMIN[0], "--password", ADMIN[1], check=False)
    assert result.returncode != 0 and "cannot connect" in result.stderr
    result = eventlet_stack.flask("events", "watch", "--url", eventlet_stack.base_url,
                                  "--user", ADMIN[0], "--password", "wrong password", check=False)
    assert result.returncode != 0 and "cannot connect" in result.stderr
    assert "wrong user name or password" in result.stderr


def test_rq_info_lists_queue_and_workers(eventlet_stack, unique_name):
    stack = eventlet_stack
    task = stack.create_task(unique_name, "true")
    assert stack.api("POST", f"/tasks/{task['id']}/run").status_code == 202
    result = subprocess.run(
        [str(VENV_BIN / "rq"), "info", "--url", stack.redis.url], cwd=ROOT, env=stack.env,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "taskpulse" in result.stdout
    assert "1 workers, 1 queues" in result.stdout
    assert stack.workers[0].name in result.stdout


def test_scheduler_pause_and_resume_from_the_cli_are_audited_like_the_api(eventlet_stack):
    stack = eventlet_stack
    assert "scheduler paused" in stack.flask("scheduler", "pause").stdout
    assert stack.api("GET", "/scheduler").json()["paused"] is True
    assert "scheduler running" in stack.flask("scheduler", "resume").stdout
    entries = stack.api("GET", "/audit").json()["entries"]
    actions = [(e["action"], e["target_type"], e["username"].startswith("cli:")) for e in entries[:2]]
    assert actions == [("resume", "scheduler", True), ("pause", "scheduler", True)]
