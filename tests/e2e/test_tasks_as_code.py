"""Tasks as code against the real system: `flask --app wsgi tasks import / export /
import-crontab` on the stack's database, and GET /api/export, POST /api/import over HTTP
on the real server (dry run, a refused import that writes nothing, the live announcement)."""
from __future__ import annotations

import requests

from tests.support.processes import ADMIN, wait_until

HEADER = ("# Taskpulse tasks: a YAML list, one mapping per task (README, \"Tasks as code\").\n"
          "# flask --app wsgi tasks import FILE --dry-run shows what importing it would change.\n")
YAML = {"Content-Type": "application/yaml"}


def fifty_tasks_file() -> str:
    """Fifty tasks written by hand in the documented form (sorted by name, fields in
    the fixed order, defaults left out): what `tasks export` must give back byte for byte."""
    out = [HEADER]
    for i in range(50):
        lines = [f"- name: job-{i:02d}", "  kind: shell", "  config:", f"    command: echo job {i}"]
        if i % 5 == 0:
            lines += ["  description: |-", f"    Job {i}: the first line", "    and the second"]
        if i % 3 == 0:
            lines += ["  schedule:", "    type: cron", f"    expr: {i % 24} 2 * * *"]
        elif i % 3 == 1:
            lines += ["  schedule:", "    type: cron", "    expr: '*/15 * * * *'"]
        else:
            lines += ["  schedule:", "    type: interval", f"    seconds: {60 * (i + 1)}"]
        if i % 4 == 0:
            lines += ["  timezone: Europe/Paris"]
        if i % 7 == 0:
            lines += ["  enabled: false"]
        if i % 2 == 0:
            lines += ["  queue: scanners", "  tags:", "  - scan", "  - heavy"]
        if i < 49 and i % 10 == 9:  # a chain to a task later in the file
            lines += ["  then:", f"  - task: job-{i + 1:02d}", "    when: success"]
        if i % 6 == 0:
            lines += ["  timeout: 60", "  retries:", "    max: 2", "    backoff:", "    - 5", "    - 30"]
        if i % 8 == 0:
            lines += ["  overlap: queue", "  misfire: skip"]
        if i % 9 == 0:
            lines += ["  env:", "    LEVEL: high", f"    TARGET: host-{i}"]
        out.append("\n".join(lines) + "\n")
    return "".join(out)


def test_fifty_tasks_imported_from_yaml_export_as_the_same_bytes(eventlet_stack, tmp_path):
    stack = eventlet_stack
    path = tmp_path / "tasks.yaml"
    path.write_text(fifty_tasks_file())
    dry = stack.flask("tasks", "import", str(path), "--prune", "--dry-run")
    assert "dry run, nothing changed: 50 created, 0 updated, 0 unchanged" in dry.stdout
    assert "job-00" not in stack.flask("tasks", "export").stdout

    done = stack.flask("tasks", "import", str(path), "--prune")
    assert "50 created, 0 updated, 0 unchanged" in done.stdout, done.stdout + done.stderr
    exported = stack.flask("tasks", "export").stdout
    assert exported == path.read_text()

    tasks = {t["name"]: t for t in stack.api("GET", "/tasks").json()["tasks"]}
    assert len(tasks) == 50
    assert tasks["job-09"]["then"] == [{"task": "job-10", "when": "success"}]
    assert tasks["job-00"]["queue"] == "scanners" and tasks["job-01"]["queue"] == "taskpulse"
    assert tasks["job-01"]["next_run_at"] is not None

    # The round trip: exporting and importing the export changes nothing, audits nothing.
    audit = stack.api("GET", "/audit?limit=1000").json()["entries"]
    back = tmp_path / "exported.yaml"
    back.write_text(exported)
    again = stack.flask("tasks", "import", str(back))
    assert "0 created, 0 updated, 50 unchanged, 0 pruned" in again.stdout
    assert stack.api("GET", "/audit?limit=1000").json()["entries"] == audit
    assert stack.flask("tasks", "export").stdout == exported

    # One changed line is one update, named with its field.
    path.write_text(exported.replace("command: echo job 7\n", "command: echo job seven\n"))
    changed = stack.flask("tasks", "import", str(path))
    assert "update     job-07 (config)" in changed.stdout
    assert "0 created, 1 updated, 49 unchanged" in changed.stdout


def test_a_refused_file_from_the_cli_changes_nothing_and_says_why(eventlet_stack, tmp_path):
    stack = eventlet_stack
    before = stack.flask("tasks", "export").stdout
    path = tmp_path / "bad.yaml"
    path.write_text("- name: fine-one\n  kind: shell\n  config: {command: 'true'}\n"
                    "- name: looping\n  kind: shell\n  config: {command: 'true'}\n  then: [looping]\n"
                    "- name: badq\n  kind: shell\n  config: {command: 'true'}\n  queue: 'no spaces'\n")
    result = stack.flask("tasks", "import", str(path), check=False)
    assert result.returncode == 1
    assert "task at index 1 ('looping') [then]: would make a cycle: looping -> looping" in result.stderr
    assert "task at index 2 ('badq') [queue]" in result.stderr
    assert "2 task(s) refused; nothing was changed" in result.stderr and "Traceback" not in result.stderr
    assert stack.flask("tasks", "export").stdout == before
    path.write_text("name: not-a-list\n")
    result = stack.flask("tasks", "import", str(path), check=False)
    assert result.returncode == 1 and "must be a YAML list of tasks" in result.stderr


CRONTAB = """\
# The old box's crontab, as `crontab -l` printed it.
MAILTO=ops@example.com
SHELL=/bin/bash
PATH=/usr/local/bin:/usr/bin:/bin

# databases
0 1 * * * /opt/db/update-database.sh
30 1 * * * /opt/db/vacuum.sh --all
0 */6 * * * /opt/db/backup.sh
CRON_TZ=Europe/Berlin
15 3 * * 1 /opt/scan/full-scan.sh
*/10 * * * * /opt/scan/quick-scan.sh
@hourly /opt/scan/feed-refresh.sh
@daily /opt/reports/daily.sh
@weekly /opt/reports/weekly.sh
@monthly /opt/reports/monthly.sh
0 9 1 1 * /opt/reports/yearly.sh
*/5 * * * * curl -fsS https://status.example.com/ping
0 0 * * 0 find /var/tmp -mtime +30 -delete
45 23 * * * logrotate /etc/logrotate.conf
0 4 * * 2-6 /opt/mail/queue-flush.sh
20 4 * * * date +\\%F >> /var/log/stamp.log
0 5 1,15 * * /opt/billing/invoice.sh
10 5 * * * /opt/billing/reconcile.sh
0 6 * * * /opt/cache/warm.sh
30 6 * * 1-5 /opt/cache/purge.sh
0 7 * * * /opt/cache/purge.sh
"""


def test_a_crontab_of_twenty_lines_imported_by_the_cli_is_seen_over_the_api(eventlet_stack, tmp_path):
    stack = eventlet_stack
    path = tmp_path / "crontab.txt"
    path.write_text(CRONTAB)
    result = stack.flask("tasks", "import-crontab", str(path))
    assert result.returncode == 0, result.stderr
    assert "line 2: skipped, environment line MAILTO (not imported)" in result.stdout
    assert "line 6: skipped, comment" in result.stdout
    assert "20 created" in result.stdout
    tasks = {t["name"]: t for t in stack.api("GET", "/tasks").json()["tasks"] if t["name"].startswith("cron-")}
    assert len(tasks) == 20
    scan = tasks["cron-opt-scan-full-scan-sh"]
    assert scan["schedule"] == {"type": "cron", "expr": "15 3 * * 1"} and scan["timezone"] == "Europe/Berlin"
    assert tasks["cron-opt-db-update-database-sh"]["timezone"] == "UTC"
    assert tasks["cron-opt-reports-daily-sh"]["schedule"]["expr"] == "@daily"
    assert tasks["cron-date-f-var-log-stamp-log"]["config"]["command"] == "date +%F >> /var/log/stamp.log"
    assert {"cron-opt-cache-purge-sh", "cron-opt-cache-purge-sh-2"} <= set(tasks)
    assert all(t["kind"] == "shell" and t["next_run_at"] for t in tasks.values())
    again = stack.flask("tasks", "import-crontab", str(path), "--dry-run")
    assert "0 created, 0 updated, 20 unchanged" in again.stdout

    path.write_text(CRONTAB + "0 2 * * /opt/four-fields.sh\n@reboot /opt/boot.sh\n")
    refused = stack.flask("tasks", "import-crontab", str(path), check=False)
    assert refused.returncode == 1
    assert "line 28: refused, too few fields (5)" in refused.stderr and "line 29: refused, @reboot" in refused.stderr


def test_the_http_import_dry_runs_refuses_whole_files_and_announces_live(eventlet_stack, unique_name,
                                                                         live_client_factory):
    stack = eventlet_stack
    name = unique_name[:60]
    changes: list[dict] = []
    watcher = live_client_factory(stack.base_url)
    watcher.sio.on("task_changed", changes.append)
    stack.create_task(name + "-a", "echo a")
    current = requests.get(f"{stack.base_url}/api/export", auth=ADMIN, timeout=10)
    assert current.status_code == 200 and current.headers["Content-Type"] == "application/yaml"
    file = current.text.replace("command: echo a\n", "command: echo A\n") + (
        f"- name: {name}-b\n  kind: shell\n  config:\n    command: echo b\n  then:\n  - task: {name}-a\n")

    dry = stack.api("POST", "/import?dry_run=1", data=file.encode(), headers=YAML)
    assert dry.status_code == 200, dry.text
    assert dry.json()["created"] == [f"{name}-b"] and dry.json()["updated"] == [f"{name}-a"]
    assert stack.api("GET", "/export").text == current.text

    bad = file + f"- name: {name}-c\n  kind: shell\n  config:\n    command: echo c\n  timeout: -1\n"
    refused = stack.api("POST", "/import", data=bad.encode(), headers=YAML)
    assert refused.status_code == 400
    assert refused.json()["refused"][0]["name"] == f"{name}-c"
    assert refused.json()["refused"][0]["field"] == "timeout"
    assert stack.api("GET", "/export").text == current.text

    applied = stack.api("POST", "/import", data=file.encode(), headers=YAML)
    assert applied.status_code == 200 and applied.json()["created"] == [f"{name}-b"]
    b = next(t for t in stack.api("GET", "/tasks").json()["tasks"] if t["name"] == f"{name}-b")
    wait_until(lambda: any(c["action"] == "created" and c["task_id"] == b["id"] for c in changes), 10,
               what="task_changed for the imported task")
    stranger = stack.api("POST", "/import", data=file.encode(), headers=YAML, auth=None)
    assert stranger.status_code == 401
