"""The run rollup /metrics reads (taskpulse_run_counts, taskpulse_run_histograms),
backfilled from the runs already in the database; from here on the app adds to it in
the transaction that changes each run (webapp.runs.rollup).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TERMINAL = ("success", "failed", "stopped", "canceled", "skipped")
# The bounds of webapp.runs.rollup when this revision was written (a revision does not
# import the app: it must do tomorrow what it did today).
DURATION = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
WAIT = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)

runs = sa.table("taskpulse_task_runs", sa.column("task_id", sa.Integer), sa.column("status", sa.String),
                sa.column("trigger", sa.String), sa.column("queued_at", sa.DateTime),
                sa.column("started_at", sa.DateTime), sa.column("finished_at", sa.DateTime),
                sa.column("scheduled_for", sa.DateTime))


def _seconds(dialect: str, start, end):
    if dialect == "postgresql":
        return sa.func.extract("epoch", end - start)
    return sa.func.round((sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0, 3)


def _bucket(value, bounds):
    # Literal SQL (no bound parameters) so that PostgreSQL can group on it.
    return sa.case(*[(value <= sa.literal_column(repr(float(b))), sa.literal_column(f"'{float(b)!r}'"))
                     for b in bounds], else_=sa.literal_column("'+Inf'"))


def _backfill() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    c = runs.c
    if dialect == "postgresql":
        epoch = sa.func.extract("epoch", sa.func.max(c.finished_at))
    else:
        epoch = (sa.func.julianday(sa.func.max(c.finished_at)) - 2440587.5) * 86400.0
    counts = sa.table("taskpulse_run_counts", *[sa.column(n) for n in
                                                ("task_id", "status", "trigger", "runs", "last_finished")])
    bind.execute(counts.insert().from_select(
        ["task_id", "status", "trigger", "runs", "last_finished"],
        sa.select(c.task_id, c.status, c.trigger, sa.func.count(), epoch)
        .where(c.status.in_(TERMINAL)).group_by(c.task_id, c.status, c.trigger)))
    hist = sa.table("taskpulse_run_histograms", *[sa.column(n) for n in
                                                  ("task_id", "metric", "le", "observations", "total")])
    spans = {
        "duration": (c.started_at, c.finished_at, DURATION, c.status.in_(TERMINAL)),
        "queue_wait": (c.queued_at, c.started_at, WAIT, sa.true()),
        "schedule_lag": (c.scheduled_for, c.started_at, WAIT, sa.true()),
    }
    for metric, (start, end, bounds, where) in spans.items():
        value = _seconds(dialect, start, end)
        observed = (sa.select(c.task_id, _bucket(value, bounds).label("le"), value.label("v"))
                    .where(where, start.is_not(None), end.is_not(None)).subquery())
        bind.execute(hist.insert().from_select(
            ["task_id", "metric", "le", "observations", "total"],
            sa.select(observed.c.task_id, sa.literal_column(f"'{metric}'"), observed.c.le,
                      sa.func.count(), sa.func.sum(observed.c.v))
            .group_by(observed.c.task_id, observed.c.le)))


def upgrade():
    op.create_table(
        "taskpulse_run_counts",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("last_finished", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["taskpulse_tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "status", "trigger"),
    )
    op.create_table(
        "taskpulse_run_histograms",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column("le", sa.String(length=20), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["taskpulse_tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "metric", "le"),
    )
    _backfill()


def downgrade():
    op.drop_table("taskpulse_run_histograms")
    op.drop_table("taskpulse_run_counts")
