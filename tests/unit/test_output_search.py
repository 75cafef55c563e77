"""GET /api/runs/search on SQLite (the plain scan): what an operator searching for a
word of a run's output sees, and the refusals that name the field at fault. The
PostgreSQL path, with its trigram index, is tests/e2e/test_output_search.py."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import basic_auth
from webapp.runs.search import excerpt, like_pattern

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def store_run(app, make_task):
    """Store a finished run with ``output``/``error``; returns its id (ids grow with time)."""
    from webapp.core.extensions import db
    from webapp.core.models import TaskRun

    count = {"n": 0}

    def store(task_id: int, output: str | None = None, error: str | None = None,
              status: str = "success") -> int:
        count["n"] += 1
        with app.app_context():
            run = TaskRun(task_id=task_id, status=status, trigger="manual", output=output, error=error,
                          queued_at=T0, finished_at=T0 + timedelta(minutes=count["n"]))
            db.session.add(run)
            db.session.commit()
            return run.id

    return store


def search(client, **params):
    return client.get("/api/runs/search", query_string=params)


def test_a_word_of_the_output_finds_the_run_with_the_matching_line(client, make_task, store_run):
    task = make_task(name="nightly scan")
    run = store_run(task, "starting\nconnecting to db-1\nERROR: Connection TIMEOUT after 30 s\ndone\n")
    store_run(task, "all fine\n")
    answer = search(client, q="timeout")
    assert answer.status_code == 200
    assert answer.get_json() == {"runs": [{
        "run_id": run, "task_id": task, "task_name": "nightly scan", "status": "success",
        "finished_at": "2026-12-03T08:01:00Z", "excerpt": "ERROR: Connection TIMEOUT after 30 s"}]}


def test_the_error_is_searched_too_and_the_newest_run_comes_first(client, make_task, store_run):
    task = make_task()
    older = store_run(task, "disk full on /var\n")
    newer = store_run(task, None, "exit code 1: Disk full", status="failed")
    store_run(task, "nothing to see\n")
    runs = search(client, q="DISK FULL").get_json()["runs"]
    assert [(r["run_id"], r["status"], r["excerpt"]) for r in runs] == [
        (newer, "failed", "exit code 1: Disk full"), (older, "success", "disk full on /var")]


def test_like_wildcards_are_literal(client, make_task, store_run):
    task = make_task()
    literal = store_run(task, "progress 100% done\n")
    store_run(task, "progress 1000 done\n")
    underscore = store_run(task, "key a_b set\n")
    store_run(task, "key axb set\n")
    backslash = store_run(task, "path C:\\temp\n")
    assert [r["run_id"] for r in search(client, q="100%").get_json()["runs"]] == [literal]
    assert [r["run_id"] for r in search(client, q="a_b").get_json()["runs"]] == [underscore]
    assert [r["run_id"] for r in search(client, q="C:\\t").get_json()["runs"]] == [backslash]
    assert search(client, q="%").get_json()["runs"][0]["run_id"] == literal


def test_task_narrows_the_search_and_limit_caps_it(client, make_task, store_run):
    scans, backups = make_task(), make_task()
    mine = [store_run(scans, f"line {i}: needle\n") for i in range(5)]
    store_run(backups, "needle too\n")
    runs = search(client, q="needle", task=scans, limit=3).get_json()["runs"]
    assert [r["run_id"] for r in runs] == mine[::-1][:3]
    assert {r["task_id"] for r in runs} == {scans}
    assert len(search(client, q="needle").get_json()["runs"]) == 6


@pytest.mark.parametrize("params, field, status", [
    ({}, "q", 400),
    ({"q": ""}, "q", 400),
    ({"q": "x" * 201}, "q", 400),
    ({"q": "x", "task": "abc"}, "task", 400),
    ({"q": "x", "task": "-1"}, "task", 400),
    ({"q": "x", "task": "999999"}, "task", 404),
    ({"q": "x", "limit": "0"}, "limit", 400),
    ({"q": "x", "limit": "201"}, "limit", 400),
])
def test_refusals_name_the_field(client, params, field, status):
    answer = search(client, **params)
    assert answer.status_code == status
    assert answer.get_json()["error"]["field"] == field


def test_200_characters_and_limit_200_are_allowed(client, make_task, store_run):
    text = "y" * 200
    run = store_run(make_task(), f"start\n{text}\n")
    assert [r["run_id"] for r in search(client, q=text, limit=200).get_json()["runs"]] == [run]


def test_any_signed_in_role_may_search_and_strangers_may_not(app, client, make_task, store_run):
    from webapp.access import users

    store_run(make_task(), "hello\n")
    with app.app_context():
        users.create_user("vera", "viewer", "viewer-password-1")
    viewer = app.test_client()
    viewer.environ_base["HTTP_AUTHORIZATION"] = basic_auth("vera", "viewer-password-1")
    assert len(search(viewer, q="hello").get_json()["runs"]) == 1
    assert search(app.test_client(), q="hello").status_code == 401


def test_a_match_deep_in_a_large_output_shows_its_own_line(client, make_task, store_run):
    filler = "".join(f"ordinary line {i}\n" for i in range(40000))  # about 800 KB
    run = store_run(make_task(), filler + "the checksum MISMATCH on block 7\n" + filler)
    hit = search(client, q="mismatch").get_json()["runs"]
    assert [(r["run_id"], r["excerpt"]) for r in hit] == [(run, "the checksum MISMATCH on block 7")]


def test_a_long_line_is_cut_around_the_match():
    line = "a" * 500 + "NEEDLE" + "b" * 500
    shown = excerpt(line, 500, 6, cut_before=False, cut_after=False)
    assert shown.startswith("…") and shown.endswith("…") and "NEEDLE" in shown
    assert 195 <= len(shown) <= 205
    assert excerpt("one\ntwo NEEDLE\r\nthree", 8, 6, False, False) == "two NEEDLE"
    # A window that starts inside the text, on the matching line, says so.
    assert excerpt("middle NEEDLE end\nnext", 7, 6, True, False) == "…middle NEEDLE end"
    assert excerpt("prev\nmiddle NEEDLE end", 12, 6, True, True) == "middle NEEDLE end…"


def test_like_pattern_escapes_the_wildcards():
    assert like_pattern("100%_\\") == "%100\\%\\_\\\\%"
