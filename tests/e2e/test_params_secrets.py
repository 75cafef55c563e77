"""Parameters, env and secrets through the real system: a real forking worker runs
shell and python jobs with PARAM_* and secret env values, a real Socket.IO client
watches the live lines and task_updates, and neither they, the stored output, the API,
the database file (or a PostgreSQL dump) nor Redis ever hold a secret's value."""
from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.e2e.test_run_control import OutputWatcher
from tests.support.processes import ROOT, Stack, wait_until

JOBS = "tests.e2e.params_jobs"
SECRET = "Tr0ub4dor&3-horse-battery"
OTHER_SECRET = "second-secret-value-42"
TERMINAL = {"success", "failed", "stopped", "canceled"}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.fixture(scope="module")
def ps(request, tmp_path_factory, redis_server, database_url):
    """Web + one forking worker sharing a key ring file, as `make run` sets them up."""
    workdir = tmp_path_factory.mktemp("params-secrets")
    key_file = workdir / "secrets_key"
    key_file.write_text(Fernet.generate_key().decode() + "\n")
    key_file.chmod(0o600)
    redis_server.client().flushdb()
    stack = Stack(redis_server, workdir, async_mode="eventlet", database_url=database_url,
                  extra_env={"TASKPULSE_PYTHON_MODULES": f"worker.examples,{JOBS}",
                             # The ring from the file only (empty: unset), as `make run` has it.
                             "TASKPULSE_SECRETS_KEY": "", "TASKPULSE_SECRETS_KEY_FILE": str(key_file)})
    try:
        stack.start()
    except Exception:
        print(stack.logs())
        stack.stop()
        raise
    stack.key_file = key_file
    failed_before = request.session.testsfailed
    yield stack
    stack.stop()
    if request.session.testsfailed > failed_before:
        print(stack.logs())


def put_secret(stack, name: str, value: str) -> None:
    response = stack.api("PUT", f"/secrets/{name}", json={"value": value})
    assert response.status_code in (200, 201), response.text


def run(stack, task_id: int, params: dict | None = None) -> int:
    body = {"params": params} if params is not None else None
    response = stack.api("POST", f"/tasks/{task_id}/run", json=body)
    assert response.status_code == 202, response.text
    return response.json()["run_id"]


def finished(stack, run_id: int) -> dict:
    def done():
        body = stack.api("GET", f"/runs/{run_id}").json()
        return body if body["status"] in TERMINAL else None
    return wait_until(done, 30, what=f"run {run_id} to end")


def everything_stored(stack) -> bytes:
    """The database as a dump would show it: the SQLite files' bytes, or pg_dump's text."""
    url = stack.env["DATABASE_URL"]
    if url.startswith("postgresql"):
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        return subprocess.run(["pg_dump", dsn], capture_output=True, check=True, timeout=60).stdout
    path = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_a_shell_job_gets_its_params_and_secret_env_and_neither_is_in_its_command(ps, unique_name):
    put_secret(ps, "db.password", SECRET)
    hostile = "10.0.0.5; touch /tmp/taskpulse-param-injected $(touch /tmp/taskpulse-param-subst) `id`"
    for marker in ("/tmp/taskpulse-param-injected", "/tmp/taskpulse-param-subst"):
        Path(marker).unlink(missing_ok=True)
    task = ps.create_task(
        unique_name,
        'printf "target=%s\\n" "$PARAM_TARGET"; echo "ports=$PARAM_PORTS deep=$PARAM_DEEP"; '
        'echo "sha=$(printf %s "$DB_PASSWORD" | sha256sum | cut -c1-16)"; '
        'printf "cmdline=%s\\n" "$(tr "\\0\\n" "  " < /proc/$$/cmdline)"',
        params=[{"name": "target", "type": "string", "required": True},
                {"name": "ports", "type": "integer", "default": 443},
                {"name": "deep", "type": "boolean", "default": False}],
        env={"DB_PASSWORD": {"secret": "db.password"}, "MODE": "plain"},
    )
    body = finished(ps, run(ps, task["id"], {"target": hostile, "deep": True}))
    assert body["status"] == "success", body
    lines = body["output"].splitlines()
    assert f"target={hostile}" in lines  # the literal text, nothing ran
    assert "ports=443 deep=true" in lines
    assert f"sha={sha(SECRET)}" in lines  # the job got the secret's value
    cmdline = next(line for line in lines if line.startswith("cmdline="))
    assert "10.0.0.5" not in cmdline and "$PARAM_TARGET" in cmdline, body["output"]
    assert not Path("/tmp/taskpulse-param-injected").exists()
    assert not Path("/tmp/taskpulse-param-subst").exists()
    assert body["params"] == {"target": hostile, "ports": 443, "deep": True}


def test_a_printed_secret_is_masked_live_stored_in_the_error_and_nowhere_in_clear(
        ps, unique_name, live_client_factory, redis_server):
    put_secret(ps, "api-token", OTHER_SECRET)
    client = live_client_factory(ps.base_url)
    task = ps.create_task(
        unique_name,
        'sleep 1; echo "password is $DB_PASSWORD"; echo "::progress 50 logging in with $DB_PASSWORD"; '
        'echo "token $PARAM_TOKEN"; sleep 0.5; echo "bad password $DB_PASSWORD" >&2; exit 3',
        params=[{"name": "token", "type": "string", "secret": True}],
        env={"DB_PASSWORD": {"secret": "api-token"}},
    )
    run_id = run(ps, task["id"], {"token": "param-secret-value-77"})
    watcher = OutputWatcher(ps.base_url, run_id).connect()
    try:
        final = client.wait_status(run_id, "failed", timeout=30)
        watcher.wait_for_line(3)
    finally:
        watcher.disconnect()
    live = [line["text"] for m in watcher.messages for line in m["lines"]]
    assert "password is ***" in live and "token ***" in live and "bad password ***" in live
    assert final["error"] == "exit code 3: bad password ***"
    progress = {e.get("progress_message") for e in client.run_events(run_id) if e.get("progress")}
    assert progress == {"logging in with ***"}
    body = ps.api("GET", f"/runs/{run_id}").json()
    assert "password is ***" in body["output"] and body["params"] == {"token": "***"}
    for value in (OTHER_SECRET, "param-secret-value-77"):
        for seen in (json.dumps(live), json.dumps(client.events), json.dumps(body),
                     ps.api("GET", "/secrets").text, ps.api("GET", f"/tasks/{task['id']}").text,
                     ps.api("GET", "/events").text, ps.api("GET", "/audit").text):
            assert value not in seen
        assert value.encode() not in everything_stored(ps)
        redis = redis_server.client()
        assert all(value.encode() not in b"".join(redis.lrange(k, 0, -1))
                   for k in redis.keys("taskpulse:output:*"))
        assert value not in ps.web.output() and value not in ps.workers[0].output()


def test_a_python_job_gets_params_as_keyword_arguments_and_its_error_is_masked(ps, unique_name):
    response = ps.api("POST", "/tasks", json={
        "name": unique_name, "kind": "python", "config": {"callable": f"{JOBS}:echo_params", "kwargs": {"fixed": 1}},
        "params": [{"name": "target", "type": "string", "default": "host1"},
                   {"name": "count", "type": "number", "default": 1.5}]})
    assert response.status_code == 201, response.text
    body = finished(ps, run(ps, response.json()["id"], {"target": "10.0.0.5"}))
    assert json.loads(body["output"]) == {"kwargs": {"fixed": 1, "target": "10.0.0.5", "count": 1.5},
                                          "env": {"PARAM_TARGET": "10.0.0.5", "PARAM_COUNT": "1.5"}}
    failing = ps.api("POST", "/tasks", json={
        "name": unique_name + "-fails", "kind": "python", "config": {"callable": f"{JOBS}:fail_with"},
        "params": [{"name": "token", "type": "string", "secret": True, "required": True}]}).json()
    body = finished(ps, run(ps, failing["id"], {"token": "hunter2-secret-kw"}))
    assert body["status"] == "failed" and body["error"] == "RuntimeError: could not log in with ***"


def test_rotate_key_keeps_every_secret_readable_by_the_next_run(ps, unique_name):
    put_secret(ps, "rotated", "value-before-rotation")
    task = ps.create_task(unique_name, 'echo "sha=$(printf %s "$TOKEN" | sha256sum | cut -c1-16)"',
                          env={"TOKEN": {"secret": "rotated"}})
    old_key = ps.key_file.read_text().strip()
    result = ps.flask("secrets", "rotate-key")
    assert "re-encrypted" in result.stdout, result.stdout + result.stderr
    assert ps.key_file.read_text().strip() != old_key
    body = finished(ps, run(ps, task["id"]))  # the running worker reads the new key
    assert body["status"] == "success" and f"sha={sha('value-before-rotation')}" in body["output"]


def test_a_run_whose_secret_was_deleted_fails_naming_it(ps, unique_name):
    put_secret(ps, "short-lived", "gone-soon-value")
    task = ps.create_task(unique_name, "echo never", env={"PW": {"secret": "short-lived"}})
    assert ps.api("DELETE", "/secrets/short-lived").status_code == 204
    body = finished(ps, run(ps, task["id"]))
    assert body["status"] == "failed" and "'short-lived'" in body["error"] and "PW" in body["error"]
    assert body["attempt"] == 1  # refused, not retried


def test_bad_values_are_400_and_nothing_reaches_the_queue(ps, unique_name, redis_server):
    task = ps.create_task(unique_name, "true", params=[{"name": "n", "type": "integer", "required": True}])
    queued = redis_server.client().llen("rq:queue:taskpulse")
    for params, field in (({"n": "five"}, "params.n"), ({}, "params.n"), ({"n": 1, "x": 2}, "params.x")):
        response = ps.api("POST", f"/tasks/{task['id']}/run", json={"params": params})
        assert response.status_code == 400 and response.json()["error"]["field"] == field
    assert ps.api("GET", f"/tasks/{task['id']}/runs").json()["runs"] == []
    assert redis_server.client().llen("rq:queue:taskpulse") == queued


def test_a_postgresql_dump_holds_no_secret_value(tmp_path, redis_server, postgres_url):
    key_file = tmp_path / "secrets_key"
    key_file.write_text(Fernet.generate_key().decode())
    stack = Stack(redis_server, tmp_path, database_url=postgres_url,
                  extra_env={"TASKPULSE_SECRETS_KEY": "", "TASKPULSE_SECRETS_KEY_FILE": str(key_file)})
    stack.flask("db", "upgrade")
    done = subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "secrets", "set", "PG_PW"],
                          input="pg-plaintext-never-dumped\n", env=stack.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    stack.flask("tasks", "create", "pg-task", "--command", "true")
    assert b"PG_PW" in everything_stored(stack)
    assert b"pg-plaintext-never-dumped" not in everything_stored(stack)


def test_the_cli_runs_with_params_and_sets_secrets_from_stdin(ps, unique_name):
    task = ps.create_task(unique_name, 'echo "target=$PARAM_TARGET ports=$PARAM_PORTS pw=$PW"',
                          params=[{"name": "target", "type": "string", "required": True},
                                  {"name": "ports", "type": "integer", "default": 1}])
    done = subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "secrets", "set", "cli.pw"],
                          input="cli-secret-from-stdin\n", env=ps.env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "cli-secret-from-stdin" not in done.stdout + done.stderr
    listing = ps.flask("secrets", "list").stdout
    assert "cli.pw" in listing and "cli-secret-from-stdin" not in listing
    assert ps.api("PATCH", f"/tasks/{task['id']}", json={"env": {"PW": {"secret": "cli.pw"}}}).status_code == 200
    bad = ps.flask("tasks", "run", unique_name, "--param", "ports=many", "--param", "target=h", check=False)
    assert bad.returncode == 1 and "params.ports" in bad.stderr
    ran = ps.flask("tasks", "run", unique_name, "--param", "target=host1", "--param", "ports=22")
    run_id = int(ran.stdout.split()[2])
    body = finished(ps, run_id)
    assert body["status"] == "success" and body["output"] == "target=host1 ports=22 pw=***\n"
