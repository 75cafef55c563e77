"""Draw the plots and print the table of bench/README.md from bench/results/*.json.

    .venv/bin/python -m bench.report

Writes bench/results/latency_vs_clients.png and bench/results/live_vs_polling.png.
"""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen here
import matplotlib.pyplot as plt  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    if not path.exists() or not path.read_text().strip():
        return None
    return json.loads(path.read_text())


def latency_plot() -> None:
    points = [(n, load(f"fanout-{n}")) for n in (1, 100, 1000)]
    points = [(n, d) for n, d in points if d]
    if not points:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [n for n, _ in points]
    ax.plot(xs, [d["emit_to_receive_ms"]["p50"] for _, d in points], "o-", label="p50")
    ax.plot(xs, [d["emit_to_receive_ms"]["p99"] for _, d in points], "s-", label="p99")
    polling = load("fanout-100-polling")
    if polling:
        ax.plot([100], [polling["emit_to_receive_ms"]["p99"]], "x", markersize=10, label="p99, long-polling")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("connected clients")
    ax.set_ylabel("emit -> receive (ms)")
    ax.set_title("Socket.IO fan-out latency (WebSocket, 10 events/s)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "latency_vs_clients.png", dpi=110)


def polling_plot() -> None:
    runs = [(n, load(f"idle-{n}")) for n in (100, 500)]
    runs = [(n, d) for n, d in runs if d]
    if not runs:
        return
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    labels = [f"{n} pages" for n, _ in runs]
    width = 0.38
    xs = range(len(runs))
    metrics = [
        ("requests_per_minute", "HTTP requests / minute", None),
        ("server_cpu_percent_idle", "server CPU, idle (%)", None),
        ("staleness_ms", "staleness p50 (ms)", "p50"),
    ]
    for ax, (key, title, sub) in zip(axes, metrics):
        live = [d["taskpulse_socketio"][key][sub] if sub else d["taskpulse_socketio"][key] for _, d in runs]
        poll = [d["polling_every_2_5_s"][key][sub] if sub else d["polling_every_2_5_s"][key] for _, d in runs]
        ax.bar([x - width / 2 for x in xs], live, width, label="Taskpulse (Socket.IO)")
        ax.bar([x + width / 2 for x in xs], poll, width, label="polling every 2.5 s")
        ax.set_xticks(list(xs), labels)
        ax.set_title(title)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "live_vs_polling.png", dpi=110)


def table() -> None:
    rows = []
    for n in (1, 100, 1000):
        d = load(f"fanout-{n}")
        if d:
            rows.append((f"fan-out, {n} client(s), WebSocket", f"p50 {d['emit_to_receive_ms']['p50']} ms, "
                         f"p99 {d['emit_to_receive_ms']['p99']} ms, {d['server_kb_per_connection']} KB/conn, "
                         f"lost {d['lost']}"))
    d = load("fanout-100-polling")
    if d:
        rows.append(("fan-out, 100 clients, long-polling", f"p50 {d['emit_to_receive_ms']['p50']} ms, "
                     f"p99 {d['emit_to_receive_ms']['p99']} ms"))
    for name in ("run-latency", "run-latency-pg"):
        d = load(name)
        if d:
            ours, bare = d["taskpulse_run_now_to_success_at_client_ms"], d["bare_rq_enqueue_to_callback_ms"]
            rows.append((f"Run Now -> success seen by a client ({d['database']})",
                         f"p50 {ours['p50']} ms, p99 {ours['p99']} ms; bare RQ p50 {bare['p50']} ms, "
                         f"{d['ratio_p50_taskpulse_over_bare_rq']} x"))
    for name in ("throughput", "throughput-pg"):
        d = load(name)
        if d:
            rows.append((f"runs/s, 2 forking workers ({d['database']})",
                         f"{d['runs_per_second']} runs/s, {d['events_received']}/{d['events_expected']} events; "
                         f"bare RQ {d['bare_rq']['jobs_per_second']} jobs/s"))
    for n in (100, 500):
        d = load(f"idle-{n}")
        if d:
            live, poll = d["taskpulse_socketio"], d["polling_every_2_5_s"]
            rows.append((f"idle, {n} pages", f"Taskpulse {live['requests_per_minute']} req/min, "
                         f"{live['server_cpu_percent_idle']} % CPU; polling {poll['requests_per_minute']} "
                         f"req/min, {poll['server_cpu_percent_idle']} % CPU"))
    d = load("schedule-lag")
    if d:
        rows.append(("schedule lag", json.dumps(d.get("due_to_started_ms", d))[:160]))
    d = load("load-1000")
    if d:
        rows.append(("1,000 clients, runs finishing", f"{d['achieved_runs_per_s']} runs/s, lost {d['lost']}, "
                     f"doubled {d['doubled']}, out of order {d.get('out_of_order', 'n/a')}, "
                     f"p50 {d['emit_to_receive_ms']['p50']} ms, p99 {d['emit_to_receive_ms']['p99']} ms, "
                     f"server CPU {d['server_cpu_percent']} %, {d['server_kb_per_connection']} KB/conn"))
        for kind in ("batch", "plain"):
            part = d.get(kind)
            if part and part["clients"]:
                rows.append((f"  of which {part['clients']} {kind} clients",
                             f"lost {part['lost']}, doubled {part['doubled']}, "
                             f"{part['messages_per_client_per_s']} messages/s each, "
                             f"p50 {part['emit_to_receive_ms']['p50']} ms, p99 {part['emit_to_receive_ms']['p99']} ms"))
    print("| measurement | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


def main() -> None:
    latency_plot()
    polling_plot()
    table()


if __name__ == "__main__":
    main()
