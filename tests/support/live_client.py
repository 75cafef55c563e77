"""A real python-socketio client that records ``task_update`` events as a page would."""
from __future__ import annotations

import base64
import threading
import time
from typing import Any, Callable

import socketio


class LiveClient:
    """Connects, subscribes to a room (with ``since`` on every reconnect) and records events."""

    def __init__(self, url: str, room: str = "tasks", transports: list[str] | None = None,
                 credentials: tuple[str, str] | None = None, token: str | None = None) -> None:
        from tests.support.processes import ADMIN

        self.url = url
        user, password = credentials or ADMIN
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.headers = {} if token else {"Authorization": f"Basic {basic}"}
        self.auth = {"token": token} if token else None
        self.room = room
        self.transports = transports or ["websocket"]
        self.events: list[dict[str, Any]] = []
        self.acks: list[dict[str, Any]] = []
        self.last_seq: int | None = None
        self.seen: set[int] = set()
        self.connects = 0
        self._cond = threading.Condition()
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1)
        self.sio.on("connect", self._on_connect)
        self.sio.on("task_update", self._on_update)
        self.sio.on("seq_head", self._on_head)
        self.resyncs = 0

    def _on_connect(self) -> None:
        ack = self.sio.call("subscribe", {"room": self.room, "since": self.last_seq}, timeout=10)
        with self._cond:
            self.connects += 1
            self.acks.append(ack)
            if ack.get("ok"):
                for event in ack["events"]:
                    self._record(event, replayed=True)
                if self.last_seq is None:
                    self.last_seq = ack["head"]
            self._cond.notify_all()

    def _record(self, event: dict[str, Any], replayed: bool) -> None:
        # Events from different processes (web, workers) may arrive out of seq order:
        # dedupe by seq rather than dropping anything below the highest seen.
        if event["seq"] in self.seen:
            return
        self.seen.add(event["seq"])
        self.last_seq = max(self.last_seq or 0, event["seq"])
        self.events.append(dict(event, _replayed=replayed, _received=time.time()))

    def _on_update(self, event: dict[str, Any]) -> None:
        with self._cond:
            self._record(event, replayed=False)
            self._cond.notify_all()

    def _on_head(self, notice: dict[str, Any]) -> None:
        # A missed tail: replay from the last seq seen, as the page does.
        if self.last_seq is not None and notice["head"] > self.last_seq:
            ack = self.sio.call("subscribe", {"room": self.room, "since": self.last_seq}, timeout=10)
            with self._cond:
                self.resyncs += 1
                for event in ack.get("events", []):
                    self._record(event, replayed=True)
                self._cond.notify_all()

    def connect(self) -> "LiveClient":
        before = self.connects
        self.sio.connect(self.url, transports=self.transports, headers=self.headers,
                         auth=self.auth, wait_timeout=10)
        self.wait_for(lambda c: c.connects > before, 10, "subscribe ack")
        return self

    def disconnect(self) -> None:
        self.sio.disconnect()

    def wait_for(self, predicate: Callable[["LiveClient"], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(self)
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"timed out after {timeout} s waiting for {what}; got {self.statuses()}")
                self._cond.wait(remaining)

    def run_events(self, run_id: int) -> list[dict[str, Any]]:
        return [e for e in self.events if e["run_id"] == run_id]

    def statuses(self, run_id: int | None = None) -> list:
        return [(e["run_id"], e["status"]) if run_id is None else e["status"]
                for e in self.events if run_id is None or e["run_id"] == run_id]

    def wait_status(self, run_id: int, status: str, timeout: float = 20) -> dict[str, Any]:
        return self.wait_for(
            lambda c: next((e for e in c.run_events(run_id) if e["status"] == status), None),
            timeout, f"run {run_id} -> {status}",
        )
