"""How long ``GET /api/runs/search`` takes over 100,000 stored run outputs in PostgreSQL:
a fresh database beside ``--postgres`` is filled with ``generate_series`` (runs of 20
tasks, each output 20 lines of about 75 characters with some unique text per line; 1 in
100 runs prints a TIMEOUT line, 1 in 10,000 a "checksum mismatch"; failed runs carry an
error), the trigram indexes of migration 0008 are built (timed: that is the migration's
cost on such a table), the table is vacuumed and analysed, then the app's own search
(``webapp.runs.search.search_runs``, limit 50) is timed ``--repeats`` times per query:
rare, common, everywhere, absent, within one task, and a 2-character text (too short for
trigrams). The same queries are timed again with the indexes dropped, for comparison.
The database is dropped at the end. Prints JSON, milliseconds. Not a test.

    .venv/bin/python -m bench.search_output --runs 100000
"""
from __future__ import annotations

import argparse
import json
import os
import time

import psycopg
from sqlalchemy.engine import make_url

from bench.common import summary

NAME = "taskpulse_bench_search"
FILL = """
INSERT INTO taskpulse_tasks (name, kind, config, description, timezone, enabled, timeout,
    overlap, misfire, created_at, updated_at)
SELECT 'bench-task-' || i, 'shell', '{"command": "true"}', '', 'UTC', true, 300, 'skip',
    'run_once', now(), now()
FROM generate_series(1, 20) AS i;

INSERT INTO taskpulse_task_runs (task_id, job_id, trigger, status, queued_at, started_at,
    finished_at, held, attempt, max_attempts, output, output_lines, error)
SELECT 1 + r % 20, 'run-b' || r, 'manual',
    CASE WHEN r % 8 = 4 THEN 'failed' ELSE 'success' END,
    now() - r * interval '2 s', now() - r * interval '2 s', now() - r * interval '2 s' + interval '3 s',
    false, 1, 1,
    (SELECT string_agg(format('%s step %s: copied %s files from host-%s (%s)', to_char(l, 'FM00'),
                              l, (r * l) % 9973, r % 97, md5(r::text || '/' || l::text)), E'\n')
     FROM generate_series(1, 20) AS l)
    || CASE WHEN r % 100 = 7 THEN E'\nERROR: upstream TIMEOUT after 30 s on host-' || r % 97 ELSE '' END
    || CASE WHEN r % 10000 = 3 THEN E'\nchecksum mismatch on block ' || r ELSE '' END
    || E'\n',
    21,
    CASE WHEN r % 8 = 4 THEN 'exit code 1: step ' || r % 20 || ' failed' END
FROM generate_series(1, %(runs)s) AS r;
"""
QUERIES = {
    "rare (10 runs match)": ("checksum mismatch", None),
    "1 in 100 runs": ("timeout", None),
    "every run (newest 50)": ("copied", None),
    "absent": ("no such text anywhere", None),
    "1 in 100, within one task": ("timeout", 8),
    "2 characters, absent": ("zq", None),
}


def fresh_database(base: str) -> tuple[str, str]:
    """(SQLAlchemy URL of a new database beside ``base``, admin DSN to drop it with)."""
    url = make_url(base)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{NAME}"')
    return url.set(drivername="postgresql+psycopg", database=NAME).render_as_string(hide_password=False), admin


def time_queries(search_runs, end_request, repeats: int) -> dict[str, dict]:
    """p50/p99 (ms) of each query, run ``repeats`` times after one warm-up; each search
    in its own transaction, as each request is."""
    figures = {}
    for label, (text, task) in QUERIES.items():
        hits = len(search_runs(text, task, 50))
        end_request()
        times = []
        for _ in range(repeats):
            begun = time.perf_counter()
            search_runs(text, task, 50)
            times.append((time.perf_counter() - begun) * 1000)
            end_request()
        figures[label] = {"q": text, "hits": hits, **summary(times, 1)}
    return figures


def main() -> None:
    """Fill, index, time the searches with and without the indexes; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    url, admin = fresh_database(args.postgres)
    os.environ.setdefault("SECRET_KEY", "bench-search-secret-0123456789abcdef")
    from sqlalchemy import text

    from webapp import create_app
    from webapp.core.extensions import db
    from webapp.core.schema import TRIGRAM_INDEXES, ensure_search_indexes
    from webapp.runs.search import search_runs

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "ASYNC_MODE": "threading",
                      "SECRET_KEY": os.environ["SECRET_KEY"]})
    try:
        with app.app_context():
            db.create_all()
            started = time.perf_counter()
            raw = db.engine.raw_connection()  # no parameters: % is SQL's, not a placeholder
            try:
                with raw.cursor() as cur:
                    for statement in FILL.split(";\n\n"):
                        cur.execute(statement.replace("%(runs)s", str(int(args.runs))))
                raw.commit()
            finally:
                raw.close()
            fill_seconds = time.perf_counter() - started
            started = time.perf_counter()
            with db.engine.begin() as conn:
                assert ensure_search_indexes(conn)
            index_seconds = time.perf_counter() - started
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE taskpulse_task_runs")
                sizes = conn.execute(text(
                    "SELECT pg_size_pretty(pg_total_relation_size('taskpulse_task_runs')), "
                    "pg_size_pretty(sum(pg_relation_size(i.oid))) FROM pg_class i "
                    "WHERE i.relname = ANY(:names)"), {"names": list(TRIGRAM_INDEXES)}).one()
            indexed = time_queries(search_runs, db.session.rollback, args.repeats)
            with db.engine.begin() as conn:
                for name in TRIGRAM_INDEXES:
                    conn.exec_driver_sql(f"DROP INDEX {name}")
            unindexed = time_queries(search_runs, db.session.rollback, max(3, args.repeats // 10))
            db.session.remove()
            db.engine.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
    print(json.dumps({
        "runs": args.runs, "repeats": args.repeats, "fill_seconds": round(fill_seconds, 1),
        "index_build_seconds": round(index_seconds, 1), "table_size": sizes[0], "trigram_index_size": sizes[1],
        "with_trigram_index_ms": indexed, "without_index_ms": unindexed,
    }, indent=2))


if __name__ == "__main__":
    main()
