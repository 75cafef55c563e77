"""Database models: tasks, their runs, and the event log whose row id is the event ``seq``."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.core.alert_models import (  # noqa: F401  (re-exported: the tables live in their own module)
    NOTIFICATION_STATUSES,
    Channel,
    Notification,
    masked_url,
)
from webapp.core.config import DEFAULT_QUEUE, SLUG_PATTERN  # noqa: F401  (SLUG_PATTERN re-exported)
from webapp.core.extensions import db
from webapp.core.secret_model import Secret  # noqa: F401  (re-exported: the table lives in its own module)
from webapp.core.timeutil import iso, utcnow

ACTIVE_STATUSES = ("queued", "running", "retrying")
TERMINAL_STATUSES = ("success", "failed", "stopped", "canceled", "skipped")
STATUSES = ACTIVE_STATUSES + TERMINAL_STATUSES
TRIGGERS = ("manual", "schedule", "chain")
# What a task is when the API, the CLI or the page's dialog leaves a field out: the
# columns, the input validation and the dialog all read these.
TASK_DEFAULTS: dict[str, Any] = {
    "description": "",
    "schedule": None,
    "timezone": "UTC",
    "enabled": True,
    "timeout": 300,
    "retries": None,
    "overlap": "skip",
    "misfire": "run_once",
    "notify": None,
    "params": None,
    "env": None,
    "queue": DEFAULT_QUEUE,
    "tags": None,
    "then": None,
}

CHAIN_WHEN = ("success", "failure", "always")

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
EventId = BigInteger().with_variant(Integer(), "sqlite")


class Task(db.Model):
    """A job definition an operator can run now or on a schedule."""

    __tablename__ = "taskpulse_tasks"
    # Never reuse ids on SQLite: a new task must not inherit a deleted one's runs/events.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    config: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    description: Mapped[str] = mapped_column(Text, nullable=False, default=TASK_DEFAULTS["description"])
    schedule: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default=TASK_DEFAULTS["timezone"])
    enabled: Mapped[bool] = mapped_column(nullable=False, default=TASK_DEFAULTS["enabled"])
    timeout: Mapped[int] = mapped_column(Integer, nullable=False, default=TASK_DEFAULTS["timeout"])
    retries: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    overlap: Mapped[str] = mapped_column(String(10), nullable=False, default=TASK_DEFAULTS["overlap"])
    # What a fire missed during downtime does: "run_once" (one catch-up) or "skip".
    misfire: Mapped[str] = mapped_column(String(10), nullable=False, default=TASK_DEFAULTS["misfire"])
    # Who hears about this task's runs (webapp.alerts): null, or {"channels", "on",
    # "after_failures", "late_after", "max_runtime"}.
    notify: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # What a run is given (webapp.secrets): typed parameters with defaults, and the
    # environment (plain values, or {"secret": name}: never a secret's value).
    params: Mapped[list | None] = mapped_column(JSON, nullable=True)
    env: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # Queues, chains, groups (migration 0009): the RQ queue its runs go to, its tags
    # (concurrency groups), and the tasks to start when a run ends
    # ([{"task": name, "when": "success"|"failure"|"always"}]).
    queue: Mapped[str] = mapped_column(String(64), nullable=False, default=TASK_DEFAULTS["queue"],
                                       server_default=TASK_DEFAULTS["queue"])
    tags: Mapped[list | None] = mapped_column(JSON, nullable=True)
    # (Column "then_tasks": THEN is an SQL keyword.)
    then: Mapped[list | None] = mapped_column("then_tasks", JSON, nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    runs: Mapped[list["TaskRun"]] = relationship(
        back_populates="task", cascade="all, delete-orphan", passive_deletes=True
    )

    def to_dict(self) -> dict[str, Any]:
        """The task as the JSON API reads and writes it."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "config": self.config,
            "description": self.description,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "enabled": self.enabled,
            "timeout": self.timeout,
            "retries": self.retries,
            "overlap": self.overlap,
            "misfire": self.misfire,
            "notify": self.notify,
            "params": self.params,
            "env": self.env,
            "queue": self.queue,
            "tags": self.tags or [],
            "then": self.then or [],
            "last_run_at": iso(self.last_run_at),
            "last_status": self.last_status,
            "last_error": self.last_error,
            "next_run_at": iso(self.next_run_at),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


class TaskRun(db.Model):
    """One execution of a task, from queued to a terminal status."""

    __tablename__ = "taskpulse_task_runs"
    # One run per task and scheduled fire: the database's guard against a doubled fire,
    # whatever the schedulers do (NULL, for manual runs, never clashes). Ids are never
    # reused on SQLite.
    __table_args__ = (
        UniqueConstraint("task_id", "scheduled_for", name="uq_task_runs_fire"),
        # Migration 0004, for /metrics before it read the rollup (0006): the run counts
        # per task, status and trigger and a task's last success or failure, from an
        # index. Kept for now (dropping them is a revision of its own).
        Index("ix_taskpulse_task_runs_task_status_trigger", "task_id", "status", "trigger"),
        Index("ix_taskpulse_task_runs_status_task_finished", "status", "task_id", "finished_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(
        ForeignKey("taskpulse_tasks.id", ondelete="CASCADE"), nullable=False, index=True
    )
    job_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    trigger: Mapped[str] = mapped_column(String(20), nullable=False, default="manual")
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="queued", index=True)
    progress: Mapped[int | None] = mapped_column(Integer)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    output: Mapped[str | None] = mapped_column(Text)
    # The fire instant a scheduled run is for (null for manual runs).
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Queued behind the task's active run (overlap "queue"): the scheduler enqueues the
    # RQ job only once that run has ended.
    held: Mapped[bool] = mapped_column(nullable=False, default=False)
    # Run control (issue 4): the attempt under way or last made (1-based) of
    # ``max_attempts`` (1 + the task's retries.max when the run was queued); when a
    # ``retrying`` run's next attempt is due; the job's last progress message; the RQ
    # worker running it (for lost-worker detection); how many output lines it printed
    # (``output`` keeps the last of them).
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    progress_message: Mapped[str | None] = mapped_column(String(200))
    worker_name: Mapped[str | None] = mapped_column(String(200))
    output_lines: Mapped[int | None] = mapped_column(Integer)
    # The run's parameter values as anyone may see them (secret ones "***"), and the
    # secret ones as a Fernet token only the worker opens (webapp.secrets.vault).
    params: Mapped[dict | None] = mapped_column(JSON)
    secret_params: Mapped[str | None] = mapped_column(Text)
    # The run whose end started this one (trigger "chain"), and why a queued run waits
    # with its job off the queue (a full concurrency group; null when it does not wait).
    parent_run_id: Mapped[int | None] = mapped_column(Integer, index=True)
    waiting: Mapped[str | None] = mapped_column(String(200))

    task: Mapped[Task] = relationship(back_populates="runs")

    def to_dict(self, with_output: bool = False) -> dict[str, Any]:
        """The run as the JSON API shows it."""
        data = {
            "id": self.id,
            "task_id": self.task_id,
            "job_id": self.job_id,
            "trigger": self.trigger,
            "status": self.status,
            "progress": self.progress,
            "queued_at": iso(self.queued_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration_ms": self.duration_ms,
            "error": self.error,
            "exit_code": self.exit_code,
            "scheduled_for": iso(self.scheduled_for),
            "attempt": self.attempt,
            "max_attempts": self.max_attempts,
            "next_attempt_at": iso(self.next_attempt_at),
            "progress_message": self.progress_message,
            "worker": self.worker_name,
            "params": self.params,
            "parent_run_id": self.parent_run_id,
            "waiting": self.waiting,
        }
        if with_output:
            data["output"] = self.output
            data["output_lines"] = self.output_lines
        return data


class RunCount(db.Model):
    """How many runs of a task ended with a status and trigger, ever (webapp.runs.rollup
    adds to it in the transaction that ends each run; retention never subtracts), and when
    the newest of them finished (Unix seconds)."""

    __tablename__ = "taskpulse_run_counts"

    task_id: Mapped[int] = mapped_column(
        ForeignKey("taskpulse_tasks.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    trigger: Mapped[str] = mapped_column(String(20), primary_key=True)
    runs: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_finished: Mapped[float | None] = mapped_column(Float)


class RunHistogram(db.Model):
    """One histogram bucket of a task's ``metric`` (``duration``, ``queue_wait``,
    ``schedule_lag``): the observations whose value fell in it (not cumulative: ``le``
    is the bucket's upper bound, ``+Inf`` the last) and their sum (webapp.runs.rollup)."""

    __tablename__ = "taskpulse_run_histograms"

    task_id: Mapped[int] = mapped_column(
        ForeignKey("taskpulse_tasks.id", ondelete="CASCADE"), primary_key=True)
    metric: Mapped[str] = mapped_column(String(20), primary_key=True)
    le: Mapped[str] = mapped_column(String(20), primary_key=True)
    observations: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)


class Event(db.Model):
    """The event log: one row per ``task_update``; ``id`` is the event's ``seq``."""

    __tablename__ = "taskpulse_events"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    task_id: Mapped[int | None] = mapped_column(Integer, index=True)
    run_id: Mapped[int | None] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(40), nullable=False, default="task_update")
    payload: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class Setting(db.Model):
    """A named, installation-wide setting, such as the scheduler's global pause."""

    __tablename__ = "taskpulse_settings"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


ROLES = ("viewer", "operator", "admin")


class User(db.Model):
    """Someone who signs in: ``viewer`` watches, ``operator`` also runs and stops,
    ``admin`` also edits tasks and manages users."""

    __tablename__ = "taskpulse_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(256), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False, default="viewer")
    active: Mapped[bool] = mapped_column(nullable=False, default=True)
    # Bumped by sign-out: every session signed in before it stops working.
    session_epoch: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        """The user as the API shows it (never the hash)."""
        return {"id": self.id, "username": self.username, "role": self.role,
                "active": self.active, "created_at": iso(self.created_at)}


class ApiToken(db.Model):
    """A Bearer token for scripts; only its SHA-256 is stored."""

    __tablename__ = "taskpulse_api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("taskpulse_users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    label: Mapped[str] = mapped_column(String(80), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Null: never expires (tokens made before expiry existed, or without --expires-in).
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()


class AuditEntry(db.Model):
    """Who did what to which object, and when; edits carry a before/after diff."""

    __tablename__ = "taskpulse_audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    username: Mapped[str] = mapped_column(String(80), nullable=False)
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    target_type: Mapped[str] = mapped_column(String(20), nullable=False)
    target_id: Mapped[int | None] = mapped_column(Integer)
    target_name: Mapped[str | None] = mapped_column(String(200))
    changes: Mapped[dict | None] = mapped_column(JSON)

    def to_dict(self) -> dict[str, Any]:
        """The entry as the audit page and room ``audit`` show it."""
        return {"id": self.id, "at": iso(self.at, millis=True), "username": self.username,
                "action": self.action, "target_type": self.target_type,
                "target_id": self.target_id, "target_name": self.target_name,
                "changes": self.changes}
