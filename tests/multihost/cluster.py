"""The service on two hosts behind the deploy/ nginx recipe, on :class:`Topology`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.multihost.topology import SERVE_PORT, Topology
from tests.servers import NginxProxy
from tests.support import ROOT

HOSTS = ("h1", "h2")
# Short heartbeats so that losing a host is noticed within seconds.
PING_INTERVAL_MS = 3000
PING_TIMEOUT_MS = 2000
HEARTBEAT_S = (PING_INTERVAL_MS + PING_TIMEOUT_MS) / 1000
PASSWORD = "multi-host-Passw0rd!"


class LanNginx(NginxProxy):
    """The deploy/ recipe on 127.0.0.1, its upstreams the hosts' LAN addresses.

    Its access log names the host that answered each request, so a test can see
    where a session's requests landed.
    """

    def __init__(self, work_dir: Path, upstreams: list[str]) -> None:
        super().__init__(work_dir, [])
        self.upstreams = upstreams

    def render(self) -> str:
        conf = super().render()
        servers = "".join(f"    server {address};\n" for address in self.upstreams)
        conf = conf.replace("    keepalive 32;", servers + "    keepalive 32;", 1)
        # The recipe's rule, scaled to the test heartbeat: pingInterval plus a margin.
        read_timeout = f"{PING_INTERVAL_MS // 1000 + 2}s"
        conf = conf.replace("proxy_read_timeout 35s;", f"proxy_read_timeout {read_timeout};")
        conf = conf.replace("proxy_send_timeout 35s;", f"proxy_send_timeout {read_timeout};")
        log = self.dir / "access.log"
        # The http-level line only: the recipe's probe locations keep theirs off.
        return conf.replace(
            "http {\naccess_log off;",
            f"http {{\nlog_format hosts '$upstream_addr $request_method $request_uri';\n"
            f"access_log {log} hosts;",
            1,
        )

    def access_log(self) -> str:
        try:
            return (self.dir / "access.log").read_text()
        except OSError:
            return ""


class MultiHostCluster:
    """PostgreSQL and two Redis shards on ``db``, the service on ``h1`` and ``h2``."""

    def __init__(self) -> None:
        self.topology = Topology()
        self.serve: dict[str, subprocess.Popen] = {}
        self.nginx: LanNginx | None = None

    def env(self, host: str, **extra: str) -> dict[str, str]:
        data = self.topology.dir / f"data-{host}"
        data.mkdir(mode=0o700, exist_ok=True)
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("DJANGO_", "DATABASE_", "REDIS_", "SOCKETIO_", "LIVESTREAM_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="livestream.settings",
            DEBUG="0",
            SECRET_KEY="multi-host-test-key-not-for-production-0123456789abcdef",
            DATABASE_URL=self.topology.database_url,
            REDIS_URL=self.topology.redis_url,
            REDIS_PREFIX="mh",
            LIVESTREAM_DATA_DIR=str(data),
            HOST=self.topology.ips[host],
            PORT=str(SERVE_PORT),
            WORKERS="2",
            TRUSTED_PROXIES=f"{self.topology.root_ip}/32",
            AUTH_THROTTLE_RATE="10000/min",
            SOCKETIO_PING_INTERVAL_MS=str(PING_INTERVAL_MS),
            SOCKETIO_PING_TIMEOUT_MS=str(PING_TIMEOUT_MS),
            SOCKETIO_MAX_PENDING_PER_IP="0",
            SOCKETIO_CHAT_RATE_MESSAGES="0",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def start(self) -> MultiHostCluster:
        top = self.topology
        top.build()
        top.start_databases()
        migrated = top.run_in(
            "h1", [sys.executable, "manage.py", "migrate", "-v0"], env=self.env("h1")
        )
        if migrated.returncode != 0:
            raise RuntimeError(f"migrate failed:\n{migrated.stdout}{migrated.stderr}")
        for host in HOSTS:
            self.serve[host] = top.spawn(
                host,
                [sys.executable, "-m", "livestream.serve"],
                log=f"serve-{host}.log",
                env=self.env(host),
                cwd=ROOT,
            )
        for host in HOSTS:
            top.wait_for_port(host, top.ips[host], SERVE_PORT, what=f"livestream.serve on {host}")
        upstreams = [f"{top.ips[host]}:{SERVE_PORT}" for host in HOSTS]
        self.nginx = LanNginx(top.dir, upstreams).start()
        return self

    @property
    def url(self) -> str:
        return self.nginx.url

    def host_of(self, address: str) -> str:
        """Which host has the LAN address ``ip:port``."""
        ip = address.rsplit(":", 1)[0]
        return next(host for host in HOSTS if self.topology.ips[host] == ip)

    def hosts_that_served(self, pattern: str) -> set[str]:
        """The hosts nginx sent requests matching ``pattern`` (a regex on the URI) to."""
        hosts = set()
        for line in self.nginx.access_log().splitlines():
            upstream, _, uri = line.partition(" ")
            if re.search(pattern, uri):
                for address in re.findall(r"[\d.]+:\d+", upstream):
                    hosts.add(self.host_of(address))
        return hosts

    def websocket_handshakes(self) -> dict[str, int]:
        """How many WebSocket handshakes each host has logged (its access log)."""
        return {
            host: (self.topology.dir / f"serve-{host}.log")
            .read_text(errors="replace")
            .count("WSCONNECTING")
            for host in HOSTS
        }

    def manage_py(self, host: str, *args: str) -> subprocess.CompletedProcess:
        """An operator's ``manage.py`` command, run on ``host``."""
        return self.topology.run_in(host, [sys.executable, "manage.py", *args], env=self.env(host))

    def kill_host(self, host: str) -> None:
        """Every worker of ``host`` dies at once (SIGKILL to the whole process group)."""
        self.topology.kill(self.serve[host])

    def log(self) -> str:
        top = self.topology
        parts = [f"--- {name} ---\n{top.log(name)}" for name in ("serve-h1.log", "serve-h2.log")]
        if self.nginx is not None:
            parts.append(f"--- nginx ---\n{self.nginx.log()}")
        return "\n".join(parts)

    def close(self) -> None:
        try:
            if self.nginx is not None:
                self.nginx.stop()
        finally:
            self.topology.close()

    # --- REST through nginx, as a client app would ---------------------------------

    def api(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        request = urllib.request.Request(
            f"{self.url}/api/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {token}"} if token else {}),
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{method} {path}: {error.code} {error.read()!r}") from None

    def user(self, username: str) -> dict:
        """Register ``username``; its id, name and access token."""
        made = self.api("POST", "auth/register/", {"username": username, "password": PASSWORD})
        tokens = self.api("POST", "auth/token/", {"username": username, "password": PASSWORD})
        return {"id": str(made["id"]), "username": username, "token": tokens["access"]}

    def live_stream(self, streamer: dict, title: str) -> str:
        stream = self.api("POST", "streams/", {"title": title}, token=streamer["token"])
        self.api("POST", f"streams/{stream['id']}/start/", token=streamer["token"])
        return str(stream["id"])

    def viewer_count(self, stream_id: str) -> int:
        return self.api("GET", f"streams/{stream_id}/")["viewer_count"]


def wait_until(condition, *, timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll a synchronous ``condition`` until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(interval)
