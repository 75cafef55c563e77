"""Where the Run Now path spends its time, step by step, in the real processes.

Starts the real system with one instrumented worker (:class:`bench.profiling.TimedWorker`,
which stamps each step in the worker and in each work horse), presses Run Now on a
trivial shell task ``--runs`` times in a row with a client watching, and prints, for
every step, its median instant relative to the ``queued`` event's ``emitted_at`` (all
processes share the clock), and the median time from the step before. With
``--pyinstrument`` each work horse is also profiled (pyinstrument, 0.2 ms interval) and
the sessions of all horses are added up into one call tree (``--tree-out``).

    .venv/bin/python -m bench.profile_run_now --runs 100
    .venv/bin/python -m bench.profile_run_now --runs 50 --pyinstrument --tree-out results/horse-tree.txt
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.common import database, emit_json, load, running_system
from bench.run_latency import stamp
from tests.support.live_client import LiveClient


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--database", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--pyinstrument", action="store_true")
    parser.add_argument("--tree-out", type=Path)
    parser.add_argument("--show-all", action="store_true", help="library frames too, in the tree")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    load_before = load()
    with tempfile.TemporaryDirectory() as tmp:
        stamps_dir = Path(tmp) / "stamps"
        profile_dir = Path(tmp) / "pyinstrument"
        stamps_dir.mkdir()
        profile_dir.mkdir()
        env = {"TASKPULSE_BENCH_STAMPS": str(stamps_dir)}
        if args.pyinstrument:
            env["TASKPULSE_BENCH_PYINSTRUMENT"] = str(profile_dir)
        with database(args.database) as url, running_system(
                Path(tmp), workers=1, extra_env=env, database_url=url,
                worker_class="bench.profiling.TimedWorker") as stack:
            client = LiveClient(stack.base_url).connect()
            task = stack.create_task("bench-true", "true")
            runs: dict[str, dict[str, float]] = {}
            for index in range(args.runs + 1):  # the first is a warm-up
                started = time.time()
                response = stack.api("POST", f"/tasks/{task['id']}/run")
                answered = time.time()
                run = response.json()
                client.wait_status(run["run_id"], "success", timeout=30)
                if index == 0:
                    continue
                marks = {"client: POST sent": started, "client: POST answered": answered}
                for event in client.run_events(run["run_id"]):
                    marks[f"event {event['status']}: emitted"] = stamp(event["emitted_at"])
                    marks[f"event {event['status']}: at client"] = event["_received"]
                runs[run["job_id"]] = marks
            client.disconnect()
        per_job: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for path in stamps_dir.glob("*.jsonl"):
            for line in path.read_text().splitlines():
                record = json.loads(line)
                per_job[record["job"]].extend((label, at) for label, at in record["stamps"])
        tree = None
        if args.pyinstrument:
            from pyinstrument.renderers import ConsoleRenderer
            from pyinstrument.session import Session

            sessions = [Session.load(str(p)) for p in sorted(profile_dir.glob("*.pyisession"))
                        if p.stem in runs]
            combined = sessions[0]
            for session in sessions[1:]:
                combined = Session.combine(combined, session)
            tree = ConsoleRenderer(unicode=False, color=False, show_all=args.show_all,
                                   short_mode=False, time="percent_of_total",
                                   processor_options={"filter_threshold": 0.005}).render(combined)

    offsets: dict[str, list[float]] = defaultdict(list)
    order: dict[str, list[float]] = defaultdict(list)
    for job_id, marks in runs.items():
        base = marks["event queued: emitted"]
        timeline = list(marks.items())
        seen: dict[str, int] = defaultdict(int)
        for label, at in sorted(per_job.get(job_id, []), key=lambda item: item[1]):
            seen[label] += 1
            timeline.append((label if seen[label] == 1 else f"{label} #{seen[label]}", at))
        for label, at in timeline:
            offsets[label].append((at - base) * 1000)
            order[label].append(at - base)
    labels = sorted(offsets, key=lambda label: statistics.median(order[label]))
    steps, previous = [], None
    for label in labels:
        at = _median(offsets[label])
        steps.append({"step": label, "at_ms": at, "since_previous_ms": round(at - previous, 2)
                      if previous is not None else None, "n": len(offsets[label])})
        previous = at
    figures = {"runs": len(runs), "database": args.database, "load_before": load_before,
               "load_after": load(), "steps_from_queued_emit": steps}
    emit_json(figures, args.out)
    if tree is not None:
        if args.tree_out:
            args.tree_out.parent.mkdir(parents=True, exist_ok=True)
            args.tree_out.write_text(tree)
        print(tree)


if __name__ == "__main__":
    main()
