"""Parameters, env and secrets on the web side: what a task may declare, what a run may
be given (400 naming the parameter, nothing queued), secrets that never come back out
of the API, the audit log or the database file, and the worker's masking."""
from __future__ import annotations

import sqlite3

import pytest
from cryptography.fernet import Fernet

from worker.masking import Masker

SCAN = {
    "name": "Scan host", "kind": "shell", "config": {"command": 'echo "scanning $PARAM_TARGET"'},
    "params": [
        {"name": "target", "type": "string", "required": True},
        {"name": "ports", "type": "integer", "default": 100},
        {"name": "deep", "type": "boolean", "default": False},
        {"name": "profile", "type": "choice", "choices": ["quick", "full"], "default": "quick"},
        {"name": "token", "type": "string", "secret": True},
    ],
}


@pytest.fixture
def keyed(app, tmp_path):
    """The app with a key ring file, as `make run` sets it up."""
    path = tmp_path / "secrets_key"
    path.write_text(Fernet.generate_key().decode() + "\n")
    app.config["SECRETS_KEY_FILE"] = str(path)
    return path


def _error(response, status: int = 400) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()["error"]


def _runs(app) -> int:
    from webapp.core.extensions import db
    from webapp.core.models import TaskRun

    with app.app_context():
        return db.session.query(TaskRun).count()


# --- task definitions --------------------------------------------------------------


def test_a_task_keeps_its_typed_params_with_defaults(client):
    task = client.post("/api/tasks", json=SCAN).get_json()
    assert [p["name"] for p in task["params"]] == ["target", "ports", "deep", "profile", "token"]
    assert task["params"][1] == {"name": "ports", "type": "integer", "default": 100, "choices": None,
                                 "required": False, "secret": False}
    assert task["env"] is None


@pytest.mark.parametrize("params,field", [
    ([{"name": "1bad", "type": "string"}], "params.0.name"),
    ([{"name": "x", "type": "date"}], "params.x.type"),
    ([{"name": "x", "type": "integer", "default": "5"}], "params.x.default"),
    ([{"name": "x", "type": "choice"}], "params.x.choices"),
    ([{"name": "x", "type": "choice", "choices": ["a"], "default": "b"}], "params.x.default"),
    ([{"name": "x", "type": "string", "choices": ["a"]}], "params.x.choices"),
    ([{"name": "x", "secret": True, "default": "pw"}], "params.x.default"),
    ([{"name": "x"}, {"name": "X"}], "params.X.name"),
    ([{"name": "x", "colour": "red"}], "params.0.colour"),
    ([{"name": f"p{i}"} for i in range(21)], "params"),
    ([{"name": "x", "default": "a" * 5000}], "params.x.default"),
])
def test_bad_param_definitions_are_refused_naming_the_parameter(client, params, field):
    body = {"name": "t", "kind": "shell", "config": {"command": "true"}, "params": params}
    assert _error(client.post("/api/tasks", json=body))["field"] == field
    assert client.get("/api/tasks").get_json()["tasks"] == []


def test_a_scheduled_task_needs_a_default_for_each_required_param(client):
    body = dict(SCAN, schedule={"type": "interval", "seconds": 60})
    assert _error(client.post("/api/tasks", json=body))["field"] == "params.target.default"


@pytest.mark.parametrize("env,field", [
    ({"1X": "a"}, "env.1X"),
    ({"TASKPULSE_TASK": "a"}, "env.TASKPULSE_TASK"),
    ({"PARAM_TARGET": "a"}, "env.PARAM_TARGET"),
    ({"X": 5}, "env.X"),
    ({"X": {"secret": "no such"}}, "env.X"),
    ({"X": {"secret": "missing"}}, "env.X"),
    ({"X": {"secret": "a", "also": 1}}, "env.X"),
    ({"X": "a" * 5000}, "env.X"),
    ({f"V{i}": "a" for i in range(51)}, "env"),
])
def test_bad_env_is_refused_naming_the_variable(client, keyed, env, field):
    body = {"name": "t", "kind": "shell", "config": {"command": "true"}, "env": env}
    assert _error(client.post("/api/tasks", json=body))["field"] == field


def test_env_refers_to_secrets_by_name_and_shows_no_value(client, keyed):
    assert client.put("/api/secrets/db.password", json={"value": "s3cr3t-Value"}).status_code == 201
    body = {"name": "t", "kind": "shell", "config": {"command": "true"},
            "env": {"DB_PASSWORD": {"secret": "db.password"}, "MODE": "fast"}}
    task = client.post("/api/tasks", json=body).get_json()
    assert task["env"] == {"DB_PASSWORD": {"secret": "db.password"}, "MODE": "fast"}
    assert "s3cr3t-Value" not in client.get(f"/api/tasks/{task['id']}").get_data(as_text=True)
    # Deleting the secret afterwards is allowed; enabling the task still works.
    assert client.delete("/api/secrets/db.password").status_code == 204
    assert client.patch(f"/api/tasks/{task['id']}", json={"enabled": False}).status_code == 200


# --- run values --------------------------------------------------------------------


@pytest.fixture
def scan(client, keyed):
    return client.post("/api/tasks", json=SCAN).get_json()


@pytest.mark.parametrize("params,field", [
    ({}, "params.target"),
    ({"target": 5}, "params.target"),
    ({"target": "h", "ports": "80"}, "params.ports"),
    ({"target": "h", "ports": 1.5}, "params.ports"),
    ({"target": "h", "deep": "yes"}, "params.deep"),
    ({"target": "h", "profile": "slow"}, "params.profile"),
    ({"target": "h", "nope": 1}, "params.nope"),
    ({"target": "x" * 5000}, "params.target"),
    ("target=h", "params"),
])
def test_bad_run_values_are_refused_naming_the_parameter_and_nothing_is_queued(app, client, scan, params, field):
    response = client.post(f"/api/tasks/{scan['id']}/run", json={"params": params})
    assert _error(response)["field"] == field
    assert _runs(app) == 0


def test_an_unknown_body_field_on_run_is_refused(app, client, scan):
    assert _error(client.post(f"/api/tasks/{scan['id']}/run", json={"parms": {}}))["field"] == "parms"
    assert _runs(app) == 0


def test_a_run_keeps_its_values_with_defaults_and_secret_ones_masked(app, client, scan, clean_redis):
    from webapp.core.extensions import db
    from webapp.core.models import TaskRun
    from webapp.secrets import vault

    answer = client.post(f"/api/tasks/{scan['id']}/run",
                         json={"params": {"target": "10.0.0.5", "token": "tok-very-secret"}})
    assert answer.status_code == 202, answer.get_data(as_text=True)
    run = client.get(f"/api/runs/{answer.get_json()['run_id']}").get_json()
    assert run["params"] == {"target": "10.0.0.5", "ports": 100, "deep": False, "profile": "quick",
                             "token": "***"}
    body = client.get(f"/api/tasks/{scan['id']}/runs").get_data(as_text=True)
    assert "tok-very-secret" not in body
    with app.app_context():
        row = db.session.get(TaskRun, run["id"])
        assert "tok-very-secret" not in row.secret_params
        assert vault.open_params(row.secret_params, row.id) == {"token": "tok-very-secret"}


def test_cli_param_values_are_typed_by_their_parameter(app, scan, clean_redis):
    result = app.test_cli_runner().invoke(
        args=["tasks", "run", "Scan host", "--param", "target=h1", "--param", "ports=22", "--param", "deep=yes"])
    assert result.exit_code == 0, result.output
    bad = app.test_cli_runner().invoke(args=["tasks", "run", "Scan host", "--param", "target=h", "--param", "ports=x"])
    assert bad.exit_code == 1 and "params.ports" in bad.output
    from webapp.core.extensions import db
    from webapp.core.models import TaskRun

    with app.app_context():
        runs = db.session.query(TaskRun).all()
        assert [r.params["ports"] for r in runs] == [22] and runs[0].params["deep"] is True


# --- secrets -----------------------------------------------------------------------


def test_secrets_api_takes_values_and_gives_only_names(app, client, keyed, tmp_path):
    assert client.put("/api/secrets/DB_PASSWORD", json={"value": "pa55-word-xyz"}).status_code == 201
    again = client.put("/api/secrets/DB_PASSWORD", json={"value": "pa55-word-new"})
    assert again.status_code == 200 and "pa55" not in again.get_data(as_text=True)
    listing = client.get("/api/secrets")
    assert [s["name"] for s in listing.get_json()["secrets"]] == ["DB_PASSWORD"]
    assert "pa55" not in listing.get_data(as_text=True)
    audit = client.get("/api/audit").get_json()["entries"]
    secret_entries = [e for e in audit if e["target_type"] == "secret"]
    assert [(e["action"], e["target_name"], e["username"]) for e in secret_entries] == [
        ("update", "DB_PASSWORD", "admin"), ("create", "DB_PASSWORD", "admin")]
    assert "pa55" not in client.get("/api/audit").get_data(as_text=True)
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("unit.db*"))
    assert b"pa55-word" not in raw
    with sqlite3.connect(tmp_path / "unit.db") as conn:
        assert all(b"pa55" not in (v or "").encode() for (v,) in conn.execute("select value from taskpulse_secrets"))


@pytest.mark.parametrize("name,body,field", [
    ("bad name!", {"value": "x"}, "name"),
    ("a" * 65, {"value": "x"}, "name"),
    ("OK", {"value": ""}, "value"),
    ("OK", {"value": 5}, "value"),
    ("OK", {"value": "x" * 20000}, "value"),
    ("OK", {"value": "x", "note": 1}, "note"),
])
def test_bad_secret_input_is_refused(client, keyed, name, body, field):
    assert _error(client.put(f"/api/secrets/{name}", json=body))["field"] == field
    assert client.get("/api/secrets").get_json()["secrets"] == []


def test_no_key_ring_means_no_secrets_and_says_how(client):
    error = _error(client.put("/api/secrets/X", json={"value": "v"}), 503)
    assert "TASKPULSE_SECRETS_KEY" in error["message"]


def test_deleting_a_missing_secret_is_404(client, keyed):
    assert _error(client.delete("/api/secrets/nothing"), 404)["code"] == "not_found"


def test_rotate_key_keeps_every_value_readable_and_drops_the_old_key(app, client, keyed):
    from webapp.secrets import vault

    client.put("/api/secrets/A", json={"value": "value-of-a"})
    old = keyed.read_text().strip()
    result = app.test_cli_runner().invoke(args=["secrets", "rotate-key"])
    assert result.exit_code == 0, result.output
    new = keyed.read_text().strip()
    assert new != old and "," not in new
    with app.app_context():
        assert vault.reveal("A") == "value-of-a"
    app.config["SECRETS_KEY"] = old  # the old key alone no longer opens it
    with app.app_context(), pytest.raises(vault.SecretUnreadable):
        vault.reveal("A")


def test_cli_set_reads_the_value_from_stdin(app, keyed):
    from webapp.secrets import vault

    runner = app.test_cli_runner()
    result = runner.invoke(args=["secrets", "set", "TOKEN"], input="from-stdin-value\n")
    assert result.exit_code == 0 and "from-stdin-value" not in result.output
    assert "TOKEN" in runner.invoke(args=["secrets", "list"]).output
    with app.app_context():
        assert vault.reveal("TOKEN") == "from-stdin-value"
    assert runner.invoke(args=["secrets", "rm", "TOKEN"]).exit_code == 0
    assert "TOKEN" not in runner.invoke(args=["secrets", "list"]).output


# --- masking -----------------------------------------------------------------------


def test_masking_hides_every_value_longest_first_and_each_line_of_a_multiline_one():
    mask = Masker(["hunter22", "hunter22-extended", "line-one\nline-two", "ab"])
    assert mask("pw=hunter22-extended and hunter22") == "pw=*** and ***"
    assert mask("line-two") == "***"
    assert mask("ab is too short to mask") == "ab is too short to mask"
    assert mask(None) is None and not Masker([])


def test_a_real_shell_command_s_output_and_error_are_masked_before_anything_keeps_them():
    from worker.kinds import JobFailed, run_shell

    mask = Masker(["abcd-secret-1234"])
    lines: list[str] = []

    class Stream:
        line_count = 0

        def line(self, name, text):
            lines.append(text)
            return 0

        def progress(self, percent, message=None):
            lines.append(f"progress {percent} {message}")

    out = run_shell({"command": "echo pw=abcd-secret-1234; echo '::progress 5 with abcd-secret-1234'"},
                    10, 1, 1000, stream=Stream(), mask=mask)
    assert out.output == "pw=***\n" and lines == ["pw=***", "progress 5 with ***"]
    with pytest.raises(JobFailed) as failed:
        run_shell({"command": "echo 'login abcd-secret-1234 refused' >&2; exit 2"}, 10, 1, 1000, mask=mask)
    assert str(failed.value) == "exit code 2: login *** refused" and "abcd" not in failed.value.output


def test_run_now_without_a_body_or_with_an_empty_one_takes_the_defaults(app, client, clean_redis):
    task = client.post("/api/tasks", json={"name": "d", "kind": "shell", "config": {"command": "true"},
                                           "params": [{"name": "n", "type": "integer", "default": 3}]}).get_json()
    first = client.post(f"/api/tasks/{task['id']}/run", headers={"Content-Type": "application/json"})
    assert first.status_code == 202, first.get_data(as_text=True)
    assert client.get(f"/api/runs/{first.get_json()['run_id']}").get_json()["params"] == {"n": 3}
