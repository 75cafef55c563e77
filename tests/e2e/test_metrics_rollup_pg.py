"""The run rollup with two processes on PostgreSQL: two OS processes end runs of the same
task at the same time (their upserts race for the same rollup rows, the first insert
included), then each renders /metrics as a web process would. Both report the same
counters, and those agree with a GROUP BY over the runs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import sqlalchemy as sa

from tests.support.processes import ROOT

RUNS_EACH = 40

# One "process": end every run id it is given (running, then success or failed), then
# once the other process has ended its runs too, render the exposition and print its
# runs_total samples and its process label.
WORKER = textwrap.dedent("""
    import json, os, sys, time
    from prometheus_client.parser import text_string_to_metric_families
    from webapp import create_app
    from webapp.runs.state import update_task_status
    from webapp.metrics import exposition

    url, start, ids = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3])
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "ASYNC_MODE": "threading",
                      "REDIS_URL": "redis://127.0.0.1:1/0", "SECRET_KEY": "two-processes-0123456789abcdef"})
    with app.app_context():
        time.sleep(max(0.0, start - time.time()))  # both begin together
        for run_id in ids:
            update_task_status(run_id, "running")
            update_task_status(run_id, "success" if run_id % 3 else "failed", error="x")
    with app.app_context():
        from webapp.core.extensions import db
        deadline = time.time() + 60
        while time.time() < deadline and db.session.execute(db.text(  # the other's runs too
                "SELECT count(*) FROM taskpulse_task_runs WHERE status IN ('queued', 'running')")).scalar():
            db.session.rollback()
            time.sleep(0.1)
        db.session.rollback()
        body = exposition.render().decode()
    runs = {"|".join((s.labels["task"], s.labels["status"], s.labels["trigger"])): s.value
            for f in text_string_to_metric_families(body) if f.name == "taskpulse_runs"
            for s in f.samples}
    print(json.dumps({"runs": runs, "process": exposition.process_label()}))
""")


def test_two_processes_count_every_run_once(postgres_url):
    from webapp import create_app
    from webapp.core.extensions import db
    from webapp.core.models import Task
    from webapp.runs.state import open_run

    url = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "ASYNC_MODE": "threading",
                      "REDIS_URL": "redis://127.0.0.1:1/0", "TESTING": True})
    with app.app_context():
        db.create_all()
        tasks = [Task(name=f"shared-{i}", kind="shell", config={"command": "true"}) for i in range(2)]
        db.session.add_all(tasks)
        db.session.commit()
        ids = []
        for i in range(2 * RUNS_EACH):
            run, _ = open_run(tasks[i % 4 // 2], "manual")  # both processes end runs of both tasks
            ids.append(run.id)
        db.session.commit()
        db.engine.dispose()

    start = time.time() + 4  # after both have imported and built their app
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONWARNINGS="ignore")
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(start), json.dumps(ids[k::2])],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in range(2)]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-3000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        grouped = {f"{name}|{status}|{trigger}": float(n) for name, status, trigger, n in conn.execute(sa.text(
            "SELECT t.name, r.status, r.trigger, count(*) FROM taskpulse_task_runs r "
            "JOIN taskpulse_tasks t ON t.id = r.task_id GROUP BY t.name, r.status, r.trigger"))}
    engine.dispose()
    assert sum(grouped.values()) == 2 * RUNS_EACH
    assert [o["runs"] for o in outputs] == [grouped, grouped]
    # And a third web process, started now, reads the same (the database is the truth).
    with app.app_context():
        from webapp.metrics import queries

        fresh = {f"{t}|{s}|{g}": float(n) for t, s, g, n in queries.figures().runs}
        db.engine.dispose()
    assert fresh == grouped
    assert outputs[0]["process"] != outputs[1]["process"]
