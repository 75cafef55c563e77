"""nginx (Debian's package) on loopback in front of Taskpulse, rendered from the shipped
deploy/nginx/taskpulse.conf."""
from __future__ import annotations

import shutil
from pathlib import Path

import requests

from tests.support.processes import ROOT, Process, free_port, wait_until

SHIPPED_CONFIG = ROOT / "deploy" / "nginx" / "taskpulse.conf"


def render_site(listen: int, upstream_ports: list[int], strip_upgrade: bool = False,
                socketio_location: str = "/socket.io/") -> str:
    """The shipped server config with its placeholders filled in.

    ``strip_upgrade`` makes it a WebSocket-hostile proxy: the upgrade headers are
    dropped, as some corporate proxies and old load balancers do. ``socketio_location``
    is the Socket.IO path (``/ops/socket.io/`` for Taskpulse embedded at ``/ops``), the one
    edit the config's comments ask of an embedding app.
    """
    # Only the braced placeholders (the comments mention $LISTEN for envsubst).
    text = SHIPPED_CONFIG.read_text().replace("${LISTEN}", f"127.0.0.1:{listen}").replace(
        "${UPSTREAM_SERVERS}", "\n    ".join(f"server 127.0.0.1:{port};" for port in upstream_ports))
    assert "location /socket.io/ {" in text, "the shipped config changed: update render_site"
    text = text.replace("location /socket.io/ {", f"location {socketio_location} {{")
    if strip_upgrade:
        text = text.replace("proxy_set_header Upgrade $http_upgrade;", 'proxy_set_header Upgrade "";')
        text = text.replace("proxy_set_header Connection $connection_upgrade;", 'proxy_set_header Connection "";')
        assert 'Upgrade ""' in text, "the shipped config changed: update the hostile variant"
    return text


class Nginx:
    """A private nginx master process (foreground) serving one rendered site."""

    def __init__(self, workdir: Path, upstream_ports: list[int], strip_upgrade: bool = False,
                 socketio_location: str = "/socket.io/") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = workdir / f"nginx-{self.port}"
        self.dir.mkdir(parents=True)
        site = render_site(self.port, upstream_ports, strip_upgrade, socketio_location)
        (self.dir / "nginx.conf").write_text(f"""
daemon off;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {self.dir}/access.log;
    client_body_temp_path {self.dir}/body;
    proxy_temp_path {self.dir}/proxy;
    fastcgi_temp_path {self.dir}/fastcgi;
    uwsgi_temp_path {self.dir}/uwsgi;
    scgi_temp_path {self.dir}/scgi;
{site}
}}
""")
        self.process: Process | None = None

    def start(self) -> "Nginx":
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.process = Process(f"nginx-{self.port}", [binary, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")],
                               {"PATH": "/usr/sbin:/usr/bin:/bin"}, self.dir).start()
        wait_until(self._up, 10, what="nginx to answer")
        return self

    def _up(self) -> bool:
        if self.process and not self.process.alive():
            raise RuntimeError(f"nginx exited:\n{self.process.output()}\n{self.error_log()}")
        try:
            # Any answer but a gateway error means nginx is up and reaches the upstream
            # (an app embedding Taskpulse has no /healthz at its root).
            return requests.get(f"{self.url}/healthz", timeout=1).status_code not in (502, 504)
        except requests.RequestException:
            return False

    def error_log(self) -> str:
        path = self.dir / "error.log"
        return path.read_text() if path.exists() else ""

    def access_log(self) -> str:
        path = self.dir / "access.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.process:
            self.process.stop()
