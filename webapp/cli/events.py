"""``flask --app wsgi events watch``: the live event stream in a terminal."""
from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

import click
from flask.cli import AppGroup

from webapp.cli.terminal import printable

events_cli = AppGroup("events", help="Watch the live event stream.")


def _format_event(event: dict[str, Any]) -> str:
    parts = [
        f"#{event['seq']}",
        str(event.get("emitted_at") or ""),
        f"task {event['task_id']} {event['task_name']!r}",
        f"run {event['run_id']}",
        str(event["status"]),
    ]
    if event.get("duration_ms") is not None:
        parts.append(f"{event['duration_ms']} ms")
    if event.get("error"):
        parts.append(f"error: {event['error']}")
    # A run's error is whatever its command printed: one line per event, and no escape
    # sequence reaches the terminal.
    return printable("  ".join(parts), keep_newlines=False)


@events_cli.command("watch")
@click.option("--url", default=lambda: f"http://127.0.0.1:{os.environ.get('PORT', '5000')}",
              show_default="http://127.0.0.1:$PORT", help="The Taskpulse server.")
@click.option("--room", default="tasks", show_default=True, help="'tasks' or 'task:<id>'.")
@click.option("--since", type=int, default=None, help="Replay events after this seq first.")
@click.option("--json", "as_json", is_flag=True, help="Print each event as one JSON line.")
@click.option("--count", type=int, default=0, help="Exit after this many events (0: never).")
@click.option("--token", envvar="TASKPULSE_TOKEN", help="Bearer token (or TASKPULSE_TOKEN).")
@click.option("--user", envvar="TASKPULSE_USER", help="User name for Basic auth (or TASKPULSE_USER).")
@click.option("--password", envvar="TASKPULSE_PASSWORD", help="Password (or TASKPULSE_PASSWORD).")
def events_watch(url: str, room: str, since: int | None, as_json: bool, count: int,
                 token: str | None, user: str | None, password: str | None) -> None:
    """Print task_update events live, as the scheduler page receives them."""
    import base64

    import socketio

    if token:
        headers = {"Authorization": f"Bearer {token}"}
    elif user and password is not None:
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}"}
    else:
        raise click.UsageError("give --token, or --user and --password (or their variables)")

    client = socketio.Client(reconnection=True)
    state = {"last": since, "seen": 0}
    done = threading.Event()

    def show(event: dict[str, Any]) -> None:
        if state["last"] is not None and event["seq"] <= state["last"]:
            return
        state["last"] = event["seq"]
        click.echo(json.dumps(event) if as_json else _format_event(event))
        sys.stdout.flush()
        state["seen"] += 1
        if count and state["seen"] >= count:
            done.set()

    @client.on("connect")
    def _connected() -> None:
        ack = client.call("subscribe", {"room": room, "since": state["last"]}, timeout=10)
        if not ack.get("ok"):
            click.echo(printable(f"subscribe refused: {ack.get('error')}"), err=True)
            done.set()
            return
        click.echo(f"# connected to {url}, room {room}, head seq {ack['head']}", err=True)
        if state["last"] is None:
            state["last"] = ack["head"]
        for event in ack["events"]:
            show(event)

    @client.on("disconnect")
    def _disconnected(*_: Any) -> None:
        if not done.is_set():
            click.echo("# disconnected, reconnecting...", err=True)

    refusal: list[str] = []

    @client.on("connect_error")
    def _refused(data: Any = None) -> None:
        refusal.append(data.get("message", str(data)) if isinstance(data, dict) else str(data))

    client.on("task_update", show)
    try:
        client.connect(url, headers=headers, wait_timeout=10)
    except socketio.exceptions.ConnectionError as exc:
        reason = refusal[0] if refusal else str(exc)
        raise click.ClickException(printable(f"cannot connect to {url}: {reason}")) from None
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        client.disconnect()
