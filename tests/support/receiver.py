"""A real HTTP receiver for alert tests, reached through Apprise's ``json://``."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.processes import free_port


class Receiver:
    """An HTTP server that records every JSON body it gets (with the time it got it);
    paths under /refuse answer 500."""

    def __init__(self) -> None:
        self.got: list[tuple[float, str, dict]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with receiver.lock:
                    receiver.got.append((time.time(), self.path, body))
                self.send_response(500 if self.path.startswith("/refuse") else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def on(self, path: str) -> list[tuple[float, dict]]:
        with self.lock:
            return [(at, body) for at, p, body in self.got if p == path]
