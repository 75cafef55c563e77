"""Tasks as code: GET /api/export (shape, order, no secrets), POST /api/import (dry run,
all or nothing, chains over the whole file, prune, hostile YAML, roles) and the crontab
reader (comments, environment lines, CRON_TZ, 4 fields, @reboot, %)."""
from __future__ import annotations

import pytest
import yaml
from cryptography.fernet import Fernet

from tests.conftest import basic_auth
from tests.unit.test_openapi import fits

YAML = {"Content-Type": "application/yaml"}
HEADER_LINES = 2


def post_yaml(client, text: str, query: str = "", **headers):
    return client.post(f"/api/import{query}", data=text.encode(), headers={**YAML, **headers})


def shell(name: str, command: str = "true", **fields) -> dict:
    return {"name": name, "kind": "shell", "config": {"command": command}, **fields}


def as_yaml(tasks: list[dict]) -> str:
    return yaml.safe_dump(tasks, sort_keys=False)


def names(client) -> list[str]:
    return sorted(t["name"] for t in client.get("/api/tasks").get_json()["tasks"])


def audit_count(client) -> int:
    return len(client.get("/api/audit?limit=1000").get_json()["entries"])


def refused(response) -> list[dict]:
    assert response.status_code == 400, response.get_data(as_text=True)
    return response.get_json()["refused"]


@pytest.fixture
def keyed(app, tmp_path):
    path = tmp_path / "secrets_key"
    path.write_text(Fernet.generate_key().decode() + "\n")
    app.config["SECRETS_KEY_FILE"] = str(path)
    return path


@pytest.fixture
def announced(monkeypatch, app):
    """task_changed announcements, each with whether the change was committed by then
    (a separate connection sees the task, or no longer sees a deleted one)."""
    from sqlalchemy import text

    from webapp.core.extensions import db
    from webapp.live import events

    seen: list[tuple[str, int, bool]] = []
    real = events.publish_task_changed

    def spy(action, task_id, row):
        with db.engine.connect() as other:
            exists = other.execute(text("select count(*) from taskpulse_tasks where id = :i"),
                                   {"i": task_id}).scalar() == 1
        seen.append((action, task_id, exists == (action != "deleted")))
        real(action, task_id, row)

    monkeypatch.setattr(events, "publish_task_changed", spy)
    return seen


def test_export_is_sorted_yaml_in_a_fixed_field_order_without_defaults_or_read_only_fields(client, keyed):
    assert client.put("/api/secrets/db.password", json={"value": "s3cr3t-Value"}).status_code == 201
    assert client.post("/api/tasks", json=shell("zeta", "echo z")).status_code == 201
    assert client.post("/api/tasks", json=shell(
        "alpha", "pg_dump db\necho done", env={"PGPASSWORD": {"secret": "db.password"}, "A": "plain"},
        schedule={"type": "cron", "expr": "0 2 * * *"}, timezone="Europe/Paris", tags=["db"],
        then=[{"task": "zeta", "when": "always"}], retries={"max": 2, "backoff": [5, 10]},
        timeout=60, enabled=False)).status_code == 201
    client.post("/api/tasks/1/run")  # run state (last_*) must not reach the file
    answer = client.get("/api/export")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/yaml"
    text = answer.get_data(as_text=True)
    assert "s3cr3t" not in text
    body = "\n".join(text.splitlines()[HEADER_LINES:]) + "\n"
    assert body == """\
- name: alpha
  kind: shell
  config:
    command: |-
      pg_dump db
      echo done
  schedule:
    type: cron
    expr: 0 2 * * *
  timezone: Europe/Paris
  enabled: false
  tags:
  - db
  then:
  - task: zeta
    when: always
  timeout: 60
  retries:
    max: 2
    backoff:
    - 5
    - 10
  env:
    A: plain
    PGPASSWORD:
      secret: db.password
- name: zeta
  kind: shell
  config:
    command: echo z
"""
    assert client.get("/api/export").get_data() == answer.get_data()  # no timestamp


def test_every_writable_field_has_its_place_in_the_file():
    from webapp.tasks.validation import WRITABLE
    from webapp.tasks.yaml_io import EXPORT_FIELDS

    assert sorted(EXPORT_FIELDS) == sorted(WRITABLE)


def test_a_viewer_may_export_but_not_import(app, client):
    from webapp.access import users

    client.post("/api/tasks", json=shell("seen"))
    with app.app_context():
        users.create_user("vera", "viewer", "viewer-password-1")
    viewer = app.test_client()
    viewer.environ_base["HTTP_AUTHORIZATION"] = basic_auth("vera", "viewer-password-1")
    assert "- name: seen" in viewer.get("/api/export").get_data(as_text=True)
    answer = post_yaml(viewer, as_yaml([shell("sneaky")]))
    assert answer.status_code == 403
    assert names(client) == ["seen"]
    assert app.test_client().get("/api/export").status_code == 401


def test_dry_run_answers_the_diff_and_changes_nothing(app, client, announced):
    for name in ("same", "changed", "gone"):
        assert client.post("/api/tasks", json=shell(name)).status_code == 201
    before, entries = client.get("/api/export").get_data(), audit_count(client)
    announced.clear()
    text = as_yaml([shell("same"), shell("changed", "echo new"), shell("new")])
    answer = post_yaml(client, text, "?dry_run=1&prune=1")
    assert answer.status_code == 200
    assert answer.get_json() == {"created": ["new"], "updated": ["changed"], "unchanged": ["same"],
                                 "refused": [], "pruned": ["gone"], "dry_run": True}
    fits(client.get("/api/openapi.json").get_json(), app, "POST", "/api/import", answer)
    assert client.get("/api/export").get_data() == before
    assert audit_count(client) == entries and announced == []


def test_an_import_applies_in_one_go_audited_per_task_and_announced_after_the_commit(client, announced):
    assert client.post("/api/tasks", json=shell("old")).status_code == 201
    assert client.post("/api/tasks", json=shell("edit", "echo 1")).status_code == 201
    announced.clear()
    entries = audit_count(client)
    answer = post_yaml(client, as_yaml([shell("edit", "echo 2"), shell("fresh")]), "?prune=1")
    assert answer.get_json() == {"created": ["fresh"], "updated": ["edit"], "unchanged": [],
                                 "refused": [], "pruned": ["old"], "dry_run": False}
    assert names(client) == ["edit", "fresh"]
    log = client.get("/api/audit?limit=3").get_json()["entries"]
    assert audit_count(client) == entries + 3
    assert sorted((e["action"], e["target_name"]) for e in log) == [
        ("create", "fresh"), ("delete", "old"), ("update", "edit")]
    assert {e["username"] for e in log} == {"admin"}
    assert sorted(a for a, _, _ in announced) == ["created", "deleted", "updated"]
    assert all(committed for *_, committed in announced)


def test_one_refused_task_refuses_the_whole_file_naming_index_name_and_field(client, announced):
    assert client.post("/api/tasks", json=shell("keep", "echo 1")).status_code == 201
    before, entries = client.get("/api/export").get_data(), audit_count(client)
    announced.clear()
    text = as_yaml([shell("keep", "echo 2"), shell("fine"), shell("bad", timeout=0),
                    shell("worse", schedule={"type": "cron", "expr": "0 2 * *"})])
    answer = post_yaml(client, text)
    assert refused(answer) == [
        {"index": 2, "name": "bad", "field": "timeout", "message": "must be a whole number from 1 to 604800"},
        {"index": 3, "name": "worse", "field": "schedule.expr",
         "message": "invalid cron expression '0 2 * *' (5 fields expected)"}]
    error = answer.get_json()["error"]
    assert error["field"] == "timeout" and "'bad'" in error["message"] and "nothing was changed" in error["message"]
    assert client.get("/api/export").get_data() == before
    assert audit_count(client) == entries and announced == []


def test_chains_are_checked_over_the_whole_file_in_any_order(client):
    text = as_yaml([shell("scan", then=[{"task": "report"}]), shell("update", then=["scan"]),
                    shell("report")])
    assert post_yaml(client, text).get_json()["created"] == ["report", "scan", "update"]
    tasks = {t["name"]: t for t in client.get("/api/tasks").get_json()["tasks"]}
    assert tasks["update"]["then"] == [{"task": "scan", "when": "success"}]

    cycle = as_yaml([shell("a", then=["b"]), shell("b", then=["c"]), shell("c", then=["a"])])
    problems = refused(post_yaml(client, cycle))
    assert [(p["name"], p["field"]) for p in problems] == [("a", "then"), ("b", "then"), ("c", "then")]
    assert "a -> b -> c -> a" in problems[0]["message"]
    unknown = refused(post_yaml(client, as_yaml([shell("x", then=["nowhere"])])))
    assert unknown == [{"index": 0, "name": "x", "field": "then.task", "message": "no task named 'nowhere'"}]
    assert "x" not in names(client)


def test_prune_is_refused_while_a_task_of_the_file_chains_to_a_pruned_one(client):
    post_yaml(client, as_yaml([shell("base"), shell("top", then=["base"])]))
    problems = refused(post_yaml(client, as_yaml([shell("top", then=["base"])]), "?prune=1"))
    assert problems[0]["name"] == "top" and problems[0]["field"] == "then.task"
    assert "would be pruned" in problems[0]["message"]
    assert names(client) == ["base", "top"]


def test_round_trip_export_import_changes_nothing(client):
    tasks = [shell(f"job-{i:02d}", f"echo {i}", schedule={"type": "interval", "seconds": 60 + i},
                   tags=["batch"], then=[f"job-{i + 1:02d}"] if i < 9 else None) for i in range(10)]
    assert post_yaml(client, as_yaml(tasks)).status_code == 200
    exported = client.get("/api/export").get_data(as_text=True)
    entries = audit_count(client)
    again = post_yaml(client, exported).get_json()
    assert again["unchanged"] == [t["name"] for t in tasks]
    assert again["created"] == again["updated"] == again["pruned"] == again["refused"] == []
    assert audit_count(client) == entries
    assert client.get("/api/export").get_data(as_text=True) == exported


@pytest.mark.parametrize("text, field, words", [
    ("name: a\nkind: shell\n", "body", "list of tasks"),
    ("{tasks: []}", "body", "list of tasks"),
    ("", "body", "empty"),
    ("- [unclosed", "body", "line"),
    ("- name: a\n  name: b\n", "name", "duplicate key 'name'"),
    ("- name: a\n  kind: shell\n  config: {1: x}\n", "config", "keys must be strings"),
    ("- name: a\n  config: !!python/object:os.system {}\n", "config", "explicit tags"),
    ("- name: a\n  description: !!binary aGk=\n", "description", "explicit tags"),
    ("- &a {name: x}\n- *a\n", "body", "anchors and aliases"),
    ("a: &a [1,1]\nb: &b [*a,*a]\nc: &c [*b,*b]\n", "body", "anchors and aliases"),
    ("- " + "[" * 60 + "]" * 60 + "\n", "body", "nested deeper"),
    ("- {}\n" * 1001, "body", "too many tasks"),
])
def test_hostile_yaml_is_a_400_naming_the_field(client, text, field, words):
    answer = post_yaml(client, text)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    error = answer.get_json()["error"]
    assert error.get("field") == field and words in error["message"], error
    assert names(client) == []


def test_bad_tasks_in_a_list_are_named_by_index_and_name(client):
    text = "- just a string\n- name: dup\n  kind: shell\n  config: {command: 'true'}\n" \
           "- name: dup\n  kind: shell\n  config: {command: 'true'}\n" \
           "- name: ro\n  id: 7\n  kind: shell\n  config: {command: 'true'}\n" \
           "- name: flag\n  kind: shell\n  config: {command: 'true'}\n  enabled: yes\n" \
           "- name: when\n  kind: shell\n  config: {command: 'true'}\n  description: 2026-01-01\n"
    problems = refused(post_yaml(client, text))
    assert [(p["index"], p["name"], p["field"]) for p in problems] == [
        (0, None, None), (2, "dup", "name"), (3, "ro", "id"), (4, "flag", "enabled")]
    assert "index 1" in problems[1]["message"]
    assert names(client) == []  # "when" was valid (a date stays a string), but nothing is written


def test_import_needs_yaml_its_size_limit_and_csrf_for_cookies(app, client):
    assert post_yaml(client, "[]", "?dry_run=maybe").get_json()["error"]["field"] == "dry_run"
    answer = client.post("/api/import", json=[shell("j")])
    assert answer.status_code == 400 and "application/yaml" in answer.get_json()["error"]["message"]
    app.config["MAX_CONTENT_LENGTH"] = 1000
    assert post_yaml(client, as_yaml([shell(f"t{i}") for i in range(50)])).status_code == 413
    assert names(client) == []

    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024
    many = "- [" + "1," * 100_001 + "]\n"  # 200 kB: under the body limit, over the node limit
    answer = post_yaml(client, many)
    assert answer.status_code == 400 and "too many values" in answer.get_json()["error"]["message"]

    from tests.conftest import ADMIN_FOR_UNIT_TESTS

    browser = app.test_client()
    form = browser.get("/login").get_data(as_text=True)
    token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    browser.post("/login", data={"csrf_token": token, "username": ADMIN_FOR_UNIT_TESTS[0],
                                 "password": ADMIN_FOR_UNIT_TESTS[1]})
    assert browser.get("/api/export").status_code == 200  # signed in by cookie; reads need no token
    answer = post_yaml(browser, as_yaml([shell("forged")]))
    assert answer.status_code == 403 and "CSRF" in answer.get_json()["error"]["message"]
    page_token = browser.get("/", follow_redirects=True).get_data(as_text=True)
    token = page_token.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    answer = post_yaml(browser, as_yaml([shell("from-the-page")]), **{"X-CSRFToken": token})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert names(client) == ["from-the-page"]


# --- the crontab reader ------------------------------------------------------------

def read_crontab(app, text: str, timezone: str = "UTC"):
    from webapp.tasks import crontab

    with app.app_context():
        return crontab.parse(text, timezone)


def test_crontab_lines_become_shell_tasks_and_the_rest_is_reported(app):
    table = read_crontab(app, """\
# backups
MAILTO=ops@example.com
SHELL=/bin/bash
PATH = /usr/bin:/bin

0 2 * * * /usr/local/bin/backup.sh --full
CRON_TZ=America/New_York
*/15 9-17 * * 1-5 curl -s http://x/ping
@daily find /tmp -delete
@DAILY find /tmp -delete
30 1 * * * date +\\%F >> /var/log/d
""")
    assert table.errors == []
    assert table.skipped == [(1, "comment"), (2, "environment line MAILTO (not imported)"),
                             (3, "environment line SHELL (not imported)"),
                             (4, "environment line PATH (not imported)"), (5, "blank line"),
                             (7, "CRON_TZ=America/New_York: the timezone of the lines after it")]
    assert table.lines == [6, 8, 9, 10, 11]
    assert [(t["name"], t["schedule"]["expr"], t["timezone"]) for t in table.tasks] == [
        ("cron-usr-local-bin-backup-sh-full", "0 2 * * *", "UTC"),
        ("cron-curl-s-http-x-ping", "*/15 9-17 * * 1-5", "America/New_York"),
        ("cron-find-tmp-delete", "@daily", "America/New_York"),
        ("cron-find-tmp-delete-2", "@daily", "America/New_York"),
        ("cron-date-f-var-log-d", "30 1 * * *", "America/New_York"),
    ]
    assert table.tasks[-1]["config"] == {"command": "date +%F >> /var/log/d"}
    assert table.tasks[0]["kind"] == "shell"


def test_bad_crontab_lines_are_each_named_by_number(app):
    table = read_crontab(app, """\
0 2 * * backup.sh
@reboot /usr/bin/start-thing
61 * * * * too-late
@fortnightly x
0 1 * * * echo 50%
CRON_TZ=Mars/Olympus
0 3 * * * fine
""")
    numbers = [n for n, _ in table.errors]
    assert numbers == [1, 2, 3, 4, 5, 6]
    messages = dict(table.errors)
    assert "too few fields (5)" in messages[1] and "5 time fields" in messages[1]
    assert "@reboot" in messages[2]
    assert "61 * * * *" in messages[3]
    assert "@fortnightly" in messages[4]
    assert "\\%" in messages[5]
    assert "Mars/Olympus" in messages[6]


def test_crontab_names_are_stable_and_unique(app):
    from webapp.tasks.crontab import slug

    assert slug("/usr/bin/Backup.sh  --full") == "usr-bin-backup-sh-full"
    assert slug("!!!") == "command"
    assert len(slug("x" * 500)) == 48
    table = read_crontab(app, "* * * * * a\n* * * * * a 2\n* * * * * a\n")
    assert [t["name"] for t in table.tasks] == ["cron-a", "cron-a-2", "cron-a-3"]


def test_crontab_import_from_the_cli_refuses_everything_on_one_bad_line(app, tmp_path):
    good = tmp_path / "good.cron"
    good.write_text("MAILTO=x\n0 2 * * * echo one\n@hourly echo two\n")
    bad = tmp_path / "bad.cron"
    bad.write_text("0 2 * * * echo one\n0 2 * * echo four-fields\n")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["tasks", "import-crontab", str(bad)])
    assert result.exit_code == 1
    assert "line 2: refused" in result.output and "nothing was imported" in result.output
    result = runner.invoke(args=["tasks", "import-crontab", str(good), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "line 1: skipped, environment line MAILTO" in result.output
    assert "dry run, nothing changed: 2 created" in result.output
    result = runner.invoke(args=["tasks", "import-crontab", str(good)])
    assert result.exit_code == 0 and "2 created" in result.output
    result = runner.invoke(args=["tasks", "import-crontab", str(good)])
    assert "0 created, 0 updated, 2 unchanged" in result.output
    export = runner.invoke(args=["tasks", "export"]).output
    assert "name: cron-echo-one" in export and "expr: '@hourly'" in export


def test_a_dry_run_with_refusals_answers_them_with_200_and_writes_nothing(client):
    answer = post_yaml(client, as_yaml([shell("ok"), shell("twice"), shell("twice")]), "?dry_run=1")
    assert answer.status_code == 200
    assert answer.get_json()["created"] == ["ok", "twice"]
    assert [(r["index"], r["name"], r["field"]) for r in answer.get_json()["refused"]] == [(2, "twice", "name")]
    assert names(client) == []


def test_a_chain_of_a_thousand_tasks_is_checked_and_a_cycle_through_it_refused(client):
    chain = [shell(f"t{i:04d}", then=[f"t{i + 1:04d}"] if i < 999 else None) for i in range(1000)]
    answer = post_yaml(client, as_yaml(chain), "?dry_run=1")
    assert answer.status_code == 200 and len(answer.get_json()["created"]) == 1000
    assert answer.get_json()["refused"] == []
    chain[-1]["then"] = ["t0000"]
    problems = post_yaml(client, as_yaml(chain), "?dry_run=1").get_json()["refused"]
    assert len(problems) == 1000 and {p["field"] for p in problems} == {"then"}
    assert problems[0]["message"].startswith("would make a cycle: t0000 -> t0001 -> ")
    assert all(len(p["message"]) <= 500 for p in problems)


def test_only_tasks_on_a_cycle_are_refused_for_it(client):
    text = as_yaml([shell("self", then=["self"]), shell("into", then=["a"]), shell("a", then=["b"]),
                    shell("b", then=["a"]), shell("free")])
    problems = refused(post_yaml(client, text))
    assert sorted(p["name"] for p in problems) == ["a", "b", "self"]
    assert next(p for p in problems if p["name"] == "self")["message"] == "would make a cycle: self -> self"
