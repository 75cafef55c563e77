"""Run history statistics of one task, for its history chart and success rate."""
from __future__ import annotations

from typing import Any

from webapp.core.models import STATUSES, TaskRun
from webapp.core.queries import runs_of_task
from webapp.core.timeutil import iso

DEFAULT_RUNS = 100
# Runs that count for the success rate: those that ran to an outcome. Canceled and
# skipped runs never ran; active ones have no outcome yet.
RATED = ("success", "failed", "stopped")


def _percentile(sorted_values: list[int], fraction: float) -> int | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def point(run: TaskRun) -> dict[str, Any]:
    """One run as a point of the chart (the same fields a ``task_update`` carries)."""
    return {
        "run_id": run.id,
        "status": run.status,
        "trigger": run.trigger,
        "attempt": run.attempt,
        "queued_at": iso(run.queued_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration_ms": run.duration_ms,
    }


def task_stats(task_id: int, limit: int = DEFAULT_RUNS) -> dict[str, Any]:
    """Statistics over the task's last ``limit`` runs.

    Returns ``{"task_id", "runs", "counts": {status: n}, "success_rate",
    "duration_ms": {"avg", "p50", "p95", "max"}, "series": [point, ...]}``: the series
    oldest first; ``success_rate`` is success / (success + failed + stopped), null when
    none of those; durations over runs that ran to an outcome.
    """
    rows = runs_of_task(task_id, limit)
    rows.reverse()
    counts = dict.fromkeys(STATUSES, 0)
    for run in rows:
        counts[run.status] = counts.get(run.status, 0) + 1
    rated = sum(counts[s] for s in RATED)
    durations = sorted(r.duration_ms for r in rows if r.status in RATED and r.duration_ms is not None)
    return {
        "task_id": task_id,
        "runs": len(rows),
        "counts": counts,
        "success_rate": round(counts["success"] / rated, 4) if rated else None,
        "duration_ms": {
            "avg": round(sum(durations) / len(durations)) if durations else None,
            "p50": _percentile(durations, 0.5),
            "p95": _percentile(durations, 0.95),
            "max": durations[-1] if durations else None,
        },
        "series": [point(run) for run in rows],
    }
