"""Access from the command line against the real system (eventlet server process, forking
rq worker, Redis): tokens that expire (`users token NAME --expires-in`), run errors
printed without terminal escape sequences (`runs list`, `events watch`), and a
placeholder or short SECRET_KEY refused at start by the web process and the CLI."""
from __future__ import annotations

import subprocess

import pytest
import requests
import socketio

from tests.support.processes import ADMIN, ROOT, VENV_BIN, wait_until

OPERATOR = ("opal", "operator-cli-e2e-password")
# A failing command whose error (its stderr) would clear the screen and retitle the
# terminal if printed as it is.
HOSTILE_COMMAND = r"printf 'boom \033[2J\033]0;pwned\007 done\n' >&2; exit 3"


@pytest.fixture(scope="module")
def stack(eventlet_stack):
    eventlet_stack.flask("users", "create", OPERATOR[0], "--role", "operator", "--password", OPERATOR[1])
    return eventlet_stack


def socket_refusal(url: str, token: str) -> str:
    """Connect with a Bearer token that must be refused; the server's reason."""
    client = socketio.Client(reconnection=False)
    reasons: list[str] = []
    client.on("connect_error", lambda data=None: reasons.append(
        data.get("message", "") if isinstance(data, dict) else str(data)))
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=5)
    finally:
        client.disconnect()
    return reasons[0] if reasons else ""


# --- tokens that expire -----------------------------------------------------------------

def test_a_token_with_an_expiry_works_until_then_and_is_then_refused_as_expired(stack):
    issued = stack.flask("users", "token", OPERATOR[0], "--label", "short-lived", "--expires-in", "3s")
    token = issued.stdout.strip().splitlines()[-1]
    assert token.startswith("tp_") and "expires at" in issued.stderr
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{stack.base_url}/api/tasks", headers=bearer, timeout=10).status_code == 200

    def refused():
        response = requests.get(f"{stack.base_url}/api/tasks", headers=bearer, timeout=10)
        return [response] if response.status_code != 200 else None  # a 401 Response is falsy

    [response] = wait_until(refused, 15, interval=0.2, what="the token to expire")
    assert response.status_code == 401
    assert response.json()["error"] == {"code": "unauthorized", "message": "token expired"}
    assert "token expired" in socket_refusal(stack.base_url, token)
    # A token without an expiry keeps working.
    lasting = stack.flask("users", "token", OPERATOR[0]).stdout.strip().splitlines()[-1]
    assert requests.get(f"{stack.base_url}/api/tasks", headers={"Authorization": f"Bearer {lasting}"},
                        timeout=10).status_code == 200


def test_an_open_socket_of_a_token_is_closed_once_the_token_expires(stack):
    token = stack.flask("users", "token", OPERATOR[0], "--expires-in", "4s").stdout.strip().splitlines()[-1]
    client = socketio.Client(reconnection=False)
    client.connect(stack.base_url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
    try:
        assert client.call("subscribe", {"room": "tasks", "since": None}, timeout=10)["ok"] is True
        # The credential sweep re-checks every open socket at least every 10 s.
        wait_until(lambda: not client.connected, 30, interval=0.2, what="the server to close the socket")
    finally:
        client.disconnect()


@pytest.mark.parametrize("value", ["90", "90x", "1.5d", "-1d", "0s", "99999d", "d", "9d; rm -rf /"])
def test_a_bad_expiry_is_a_clear_cli_error_and_no_token(stack, value):
    result = stack.flask("users", "token", OPERATOR[0], "--expires-in", value, check=False)
    assert result.returncode != 0
    assert "--expires-in" in result.stderr and "Traceback" not in result.stderr
    assert "tp_" not in result.stdout


# --- run errors on the terminal -----------------------------------------------------------

def test_runs_list_and_events_watch_show_escape_sequences_as_text(stack, unique_name):
    task = stack.create_task(unique_name, HOSTILE_COMMAND)
    watch = subprocess.Popen(
        [str(VENV_BIN / "flask"), "--app", "wsgi", "events", "watch", "--url", stack.base_url,
         "--room", f"task:{task['id']}", "--count", "3", "--user", ADMIN[0], "--password", ADMIN[1]],
        cwd=ROOT, env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert "# connected" in watch.stderr.readline()
        run = stack.api("POST", f"/tasks/{task['id']}/run").json()
        watched, _ = watch.communicate(timeout=60)
    finally:
        watch.kill()
    stored = stack.api("GET", f"/runs/{run['run_id']}").json()
    assert stored["status"] == "failed" and "\x1b[2J" in stored["error"]  # the API keeps it as it was

    listed = stack.flask("runs", "list", str(task["id"])).stdout
    for shown in (listed, watched):
        assert "\x1b" not in shown and "\x07" not in shown, repr(shown)
        assert "boom \\x1b[2J\\x1b]0;pwned\\x07 done" in shown, shown
    assert len(watched.strip().splitlines()) == 3  # one line per event, whatever the error holds


# --- SECRET_KEY ---------------------------------------------------------------------------

def shipped_placeholder() -> str:
    env_file = (ROOT / "deploy" / "systemd" / "taskpulse.env").read_text()
    return next(line.split("=", 1)[1] for line in env_file.splitlines() if line.startswith("SECRET_KEY="))


@pytest.mark.parametrize("key", [shipped_placeholder(), "too-short-a-key"], ids=["shipped-placeholder", "short"])
def test_every_process_and_the_cli_refuse_a_placeholder_or_short_secret_key(stack, key):
    env = dict(stack.env, SECRET_KEY=key, PORT="9")
    web = subprocess.run([str(VENV_BIN / "python"), "wsgi.py"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    cli = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "users", "list"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    worker = subprocess.run([str(VENV_BIN / "rq"), "worker", "-w", "worker.runner.TaskpulseWorker",
                             "-c", "worker.rq_settings", "--burst", "taskpulse"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    scheduler = subprocess.run([str(VENV_BIN / "python"), "-m", "worker.scheduler"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=60)
    for result in (web, cli, worker, scheduler):
        assert result.returncode != 0
        assert "SECRET_KEY" in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert "Taskpulse serving" not in result.stdout and "admin" not in result.stdout


def test_an_unset_or_generated_secret_key_still_starts(stack):
    unset = {k: v for k, v in stack.env.items() if k != "SECRET_KEY"}
    generated = dict(stack.env, SECRET_KEY="3f" * 32)  # the shape `make run` keeps in instance/secret_key
    for env in (unset, generated):
        result = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "users", "list"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "admin" in result.stdout
