"""Search through run output on PostgreSQL, with the real system: a shell task's runs
print lines through a forking rq worker, their output is stored when they end, and
``GET /api/runs/search`` finds them by a word of a line, newest first, with the line as
the excerpt. The trigram index of migration 0008 is what PostgreSQL reads for it.
(SQLite, the plain scan, is tests/unit/test_output_search.py.)"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.conftest import start_or_report
from tests.support.processes import Stack, wait_until

COMMAND = ('i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo "step $i ok"; done; '
           'echo "db-7: connection TIMEOUT after 30 s (run $TASKPULSE_RUN_ID)"; echo done')


@pytest.fixture(scope="module")
def pg_stack(tmp_path_factory, redis_server, postgres_url):
    redis_server.client().flushdb()
    stack = start_or_report(Stack(redis_server, tmp_path_factory.mktemp("search"), database_url=postgres_url))
    yield stack
    stack.stop()


def finished_run(stack: Stack, task_id: int) -> int:
    run_id = stack.api("POST", f"/tasks/{task_id}/run").json()["run_id"]
    wait_until(lambda: stack.api("GET", f"/runs/{run_id}").json()["status"] == "success", 30,
               what=f"run {run_id} to succeed")
    return run_id


def test_a_word_of_a_printed_line_finds_the_runs_newest_first(pg_stack, postgres_url):
    task = pg_stack.create_task("db backup", COMMAND)
    quiet = pg_stack.create_task("quiet job", "echo nothing to report")
    first, second = finished_run(pg_stack, task["id"]), finished_run(pg_stack, task["id"])
    finished_run(pg_stack, quiet["id"])

    answer = pg_stack.api("GET", "/runs/search", params={"q": "timeout"})
    assert answer.status_code == 200
    runs = answer.json()["runs"]
    assert [(r["run_id"], r["task_name"], r["status"]) for r in runs] == \
        [(second, "db backup", "success"), (first, "db backup", "success")]
    assert runs[0]["excerpt"] == f"db-7: connection TIMEOUT after 30 s (run {second})"
    assert runs[0]["finished_at"].endswith("Z")

    within = pg_stack.api("GET", "/runs/search", params={"q": "TIMEOUT", "task": quiet["id"]}).json()
    assert within == {"runs": []}
    missing = pg_stack.api("GET", "/runs/search", params={"q": "x", "task": 987654})
    assert (missing.status_code, missing.json()["error"]["field"]) == (404, "task")

    # LIKE's wildcards are literal on PostgreSQL too.
    percent = pg_stack.create_task("percent job", "echo 'copied 100% of it'; echo 'copied 1000 of it'")
    literal = finished_run(pg_stack, percent["id"])
    hits = pg_stack.api("GET", "/runs/search", params={"q": "100%"}).json()["runs"]
    assert [(r["run_id"], r["excerpt"]) for r in hits] == [(literal, "copied 100% of it")]
    assert pg_stack.api("GET", "/runs/search", params={"q": "1_0"}).json() == {"runs": []}

    # PostgreSQL answers the match from the trigram index (planner told not to scan).
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        conn.execute(sa.text("SET enable_seqscan = off"))
        plan = "\n".join(r[0] for r in conn.execute(sa.text(
            "EXPLAIN SELECT id FROM taskpulse_task_runs WHERE output ILIKE '%timeout%' "
            "OR error ILIKE '%timeout%'")))
        installed = conn.execute(sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")).scalar()
    engine.dispose()
    assert installed == 1
    assert "ix_taskpulse_task_runs_output_trgm" in plan and "ix_taskpulse_task_runs_error_trgm" in plan, plan


def test_past_the_newest_runs_the_trigram_index_finds_the_rest(pg_stack, postgres_url, monkeypatch):
    """With more runs than the first window, older matches come through the index
    query; the answer is the same, newest first (the window made tiny here)."""
    from webapp import create_app
    from webapp.core.extensions import db
    from webapp.runs import search

    task = pg_stack.create_task("window job", "echo 'needle in run'")
    runs = [finished_run(pg_stack, task["id"]) for _ in range(3)]
    app = create_app({"SQLALCHEMY_DATABASE_URI": postgres_url, "ASYNC_MODE": "threading",
                      "REDIS_URL": "redis://127.0.0.1:1/0", "SECRET_KEY": "search-window-0123456789abcdef"})
    with app.app_context():
        whole = [h["run_id"] for h in search.search_runs("NEEDLE", None, 10)]
        monkeypatch.setattr(search, "FIRST_WINDOW", 1)
        windowed = [h["run_id"] for h in search.search_runs("NEEDLE", None, 10)]
        two = [h["run_id"] for h in search.search_runs("needle", task["id"], 2)]
        db.engine.dispose()
    assert whole == windowed == runs[::-1]
    assert two == runs[::-1][:2]
