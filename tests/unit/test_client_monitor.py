"""webapp.live.client_monitor: one sweep closes the connections whose client missed
its ping timeout and forgets the closed ones (Engine.IO's own monitor is off)."""
from __future__ import annotations

import time
from types import SimpleNamespace

import engineio
from engineio import socket as eio_socket

from webapp.core.extensions import socketio
from webapp.live import client_monitor


def test_the_sweep_closes_silent_clients_and_forgets_closed_ones(monkeypatch):
    eio = engineio.Server(async_mode="threading", ping_timeout=20, monitor_clients=False)
    closed: list[str] = []

    def make(sid: str, last_ping: float | None, is_closed: bool = False) -> eio_socket.Socket:
        sock = eio_socket.Socket(eio, sid)
        sock.last_ping = last_ping
        sock.closed = is_closed
        sock.close = lambda *a, **k: closed.append(sid)
        eio.sockets[sid] = sock
        return sock

    now = time.time()
    make("answering", now - 5)       # pinged 5 s ago: within the timeout
    make("idle", None)               # no ping outstanding
    make("silent", now - 25)         # pinged 25 s ago, no pong: gone
    make("gone", None, is_closed=True)
    monkeypatch.setattr(socketio, "server", SimpleNamespace(eio=eio))
    assert client_monitor.sweep() == 1
    assert closed == ["silent"]
    assert set(eio.sockets) == {"answering", "idle", "silent"}


def test_the_server_runs_without_engineio_s_own_monitor(app):
    assert socketio.server.eio.start_service_task is False
