"""How long an uncached ``/metrics`` render takes with 500 tasks and 1,000,000 runs in
PostgreSQL: a fresh database beside ``--postgres`` is filled with ``generate_series``
(a mix of statuses, triggers and times), the run rollup is built from those runs (bulk
SQL bypasses the ORM hook that keeps it in step in the app, so the bench does what
migration 0006 does for existing runs), everything is vacuumed and analysed as
autovacuum would, then the render is timed ``--scrapes`` times (the per-process cache
bypassed). Prints JSON with p50/p99 in milliseconds. Not a test: it reports what it
measured.

    .venv/bin/python -m bench.metrics_scrape --tasks 500 --runs 1000000
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import psycopg
from sqlalchemy.engine import make_url

FILL = """
INSERT INTO taskpulse_tasks (name, kind, config, description, schedule, timezone, enabled,
    timeout, overlap, misfire, created_at, updated_at)
SELECT 'bench-task-' || i, 'shell', '{"command": "true"}', '',
    CASE WHEN i % 2 = 0 THEN '{"type": "cron", "expr": "*/5 * * * *"}'::json ELSE NULL END,
    'UTC', true, 300, 'skip', 'run_once', now(), now()
FROM generate_series(1, %(tasks)s) AS i;

INSERT INTO taskpulse_task_runs (task_id, job_id, trigger, status, queued_at, started_at,
    finished_at, scheduled_for, held, attempt, max_attempts)
SELECT t.id, 'run-b' || r, CASE WHEN r % 3 = 0 THEN 'schedule' ELSE 'manual' END,
    (ARRAY['success','success','success','success','failed','stopped','canceled','skipped'])[1 + r % 8],
    q, q + (r % 97) * interval '10 ms', q + (r % 97) * interval '10 ms' + (r % 600) * interval '1 s',
    CASE WHEN r % 3 = 0 THEN q - (r % 13) * interval '100 ms' ELSE NULL END, false, 1, 1
FROM generate_series(1, %(runs)s) AS r
JOIN taskpulse_tasks t ON t.id = 1 + r %% %(tasks)s
CROSS JOIN LATERAL (SELECT now() - (r * interval '2 s') AS q) AS times;
"""


def fresh_database(base: str, name: str) -> str:
    """Create (or re-create) database ``name`` beside ``base``; its SQLAlchemy URL."""
    url = make_url(base)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)


def main() -> None:
    """Fill, then time the renders, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--scrapes", type=int, default=100)
    args = parser.parse_args()
    url = fresh_database(args.postgres, "taskpulse_bench_metrics")
    os.environ.setdefault("SECRET_KEY", "bench-metrics-secret-0123456789abcdef")

    from webapp import create_app
    from webapp.core.extensions import db
    from webapp.metrics import exposition
    from webapp.runs import rollup

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "ASYNC_MODE": "threading",
                      "SECRET_KEY": os.environ["SECRET_KEY"]})
    with app.app_context():
        db.create_all()  # the models carry migration 0004's indexes
        started = time.perf_counter()
        raw = db.engine.raw_connection()
        try:
            with raw.cursor() as cur:
                for statement in FILL.split(";\n\n"):
                    # Whole numbers from argparse, spliced: no parameters, so % is modulo.
                    sql = statement.replace("%(tasks)s", str(int(args.tasks)))
                    cur.execute(sql.replace("%(runs)s", str(int(args.runs))).replace("%%", "%"))
            raw.commit()
        finally:
            raw.close()
        fill_seconds = time.perf_counter() - started
        started = time.perf_counter()
        with db.engine.begin() as conn:
            rollup.rebuild(conn)
        rollup_seconds = time.perf_counter() - started
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("taskpulse_task_runs", "taskpulse_tasks", "taskpulse_run_counts",
                          "taskpulse_run_histograms"):
                conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
        exposition.render()  # warm: connection pool, plans, imports
        times = []
        for _ in range(args.scrapes):
            begun = time.perf_counter()
            body = exposition.render()
            times.append((time.perf_counter() - begun) * 1000)
        times.sort()
        print(json.dumps({
            "tasks": args.tasks, "runs": args.runs, "scrapes": args.scrapes,
            "fill_seconds": round(fill_seconds, 1), "rollup_seconds": round(rollup_seconds, 1),
            "bytes": len(body),
            "p50_ms": round(statistics.median(times), 1),
            "p99_ms": round(times[min(len(times) - 1, int(0.99 * len(times)))], 1),
            "max_ms": round(times[-1], 1), "target_ms": 100,
        }, indent=2))
        db.engine.dispose()


if __name__ == "__main__":
    main()
