"""Several "machines" on one box: Linux network namespaces joined by a private LAN.

The topology the multi-host tests run on::

    root namespace (pytest, nginx on 127.0.0.1)   .1 ─┐
    <tag>-h1: python -m livestream.serve, 2 workers .11 ├─ bridge in <tag>-lan
    <tag>-h2: python -m livestream.serve, 2 workers .12 │
    <tag>-db: PostgreSQL and two Redis shards      .13 ─┘

Every address is on a veth pair created here, in a /24 no interface of the
box uses; nothing listens outside those links and loopback. The namespaces,
their links and every process are removed by :meth:`Topology.close`, which the
fixture calls in ``finally``. Only the engines themselves (nginx, redis-server,
postgres) make it a cluster: no home-made layer.
"""

from __future__ import annotations

import ipaddress
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support import ROOT

PG_BIN = Path("/usr/lib/postgresql/15/bin")
REDIS_PORTS = (6379, 6380)
PG_PORT = 5432
SERVE_PORT = 8000


def why_not_available() -> str | None:
    """Why this machine cannot run the topology, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    for tool in ("ip", "nginx", "redis-server", "runuser"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not (PG_BIN / "postgres").exists():
        return f"PostgreSQL binaries are missing ({PG_BIN})"
    probe = f"lsprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"ip netns add is not permitted here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _run(*args: str, timeout: float = 60) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


def _free_subnet() -> ipaddress.IPv4Network:
    used = _run("ip", "-4", "-o", "addr")
    for _ in range(100):
        second, third = random.randint(64, 250), random.randint(0, 255)
        if f"inet 10.{second}.{third}." not in used:
            return ipaddress.ip_network(f"10.{second}.{third}.0/24")
    raise RuntimeError("no free 10.x.y.0/24 for the test LAN")


class Topology:
    """The namespaces, the LAN and the processes started in them."""

    def __init__(self) -> None:
        self.tag = f"ls{os.getpid() % 100000}"
        self.net = _free_subnet()
        base = self.net.network_address
        self.root_ip = str(base + 1)
        self.ips = {"h1": str(base + 11), "h2": str(base + 12), "db": str(base + 13)}
        self.namespaces: list[str] = []
        self.processes: list[subprocess.Popen] = []
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.tag}-"))
        os.chmod(self.dir, 0o755)  # postgres (another user) works in a folder under it

    def ns(self, name: str) -> str:
        return f"{self.tag}-{name}"

    # --- the network ---------------------------------------------------------------

    def build(self) -> None:
        lan = self.ns("lan")
        for name in ("lan", "h1", "h2", "db"):
            _run("ip", "netns", "add", self.ns(name))
            self.namespaces.append(self.ns(name))
            _run("ip", "-n", self.ns(name), "link", "set", "lo", "up")
        _run("ip", "-n", lan, "link", "add", "br0", "type", "bridge")
        _run("ip", "-n", lan, "link", "set", "br0", "up")
        prefix = self.net.prefixlen
        for name, ip in self.ips.items():
            self._plug(f"{self.tag}{name}", self.ns(name), ip, prefix)
        self._plug(f"{self.tag}r", None, self.root_ip, prefix)

    def _plug(self, link: str, namespace: str | None, ip: str, prefix: int) -> None:
        """A veth pair: ``link`` (given ``ip``) in ``namespace``, its peer on the bridge."""
        lan = self.ns("lan")
        _run("ip", "link", "add", link, "type", "veth", "peer", "name", f"{link}p")
        _run("ip", "link", "set", f"{link}p", "netns", lan)
        _run("ip", "-n", lan, "link", "set", f"{link}p", "master", "br0", "up")
        at = ["ip"] if namespace is None else ["ip", "-n", namespace]
        if namespace is not None:
            _run("ip", "link", "set", link, "netns", namespace)
        _run(*at, "addr", "add", f"{ip}/{prefix}", "dev", link)
        _run(*at, "link", "set", link, "up")

    def cut(self, host: str) -> None:
        """The host drops off the network: its link goes down, packets are lost silently."""
        _run("ip", "-n", self.ns(host), "link", "set", f"{self.tag}{host}", "down")

    # --- processes in namespaces -------------------------------------------------

    def spawn(self, host: str, args: list[str], *, log: str, env: dict | None = None, **kw):
        """Start ``args`` in ``host``'s namespace, in its own process group."""
        out = open(self.dir / log, "ab")  # noqa: SIM115 (lives as long as the process)
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(host), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            **kw,
        )
        self.processes.append(process)
        return process

    def run_in(self, host: str, args: list[str], *, env: dict | None = None, timeout: float = 120):
        """Run ``args`` to completion in ``host``'s namespace."""
        return subprocess.run(
            ["ip", "netns", "exec", self.ns(host), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )

    def log(self, name: str) -> str:
        try:
            return (self.dir / name).read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL the process and everything it started (its process group)."""
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)

    def close(self) -> None:
        for process in reversed(self.processes):
            try:
                self.kill(process)
            except Exception:  # noqa: BLE001 (clean up the rest whatever happens)
                pass
        for namespace in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        # A root-side veth dies with its peer's namespace; make sure of it.
        subprocess.run(["ip", "link", "del", f"{self.tag}r"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- the database "machine" --------------------------------------------------

    def start_databases(self) -> None:
        db_ip = self.ips["db"]
        for port in REDIS_PORTS:
            self.spawn(
                "db",
                ["redis-server", "--bind", db_ip, "--port", str(port), "--save", ""]
                + ["--appendonly", "no", "--protected-mode", "no"],
                log=f"redis-{port}.log",
            )
        data = self.dir / "pg"
        data.mkdir()
        shutil.chown(data, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
        _run(*as_postgres, str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres")
        with open(data / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {self.net} trust\n")
        self.spawn(
            "db",
            [*as_postgres, str(PG_BIN / "postgres"), "-D", str(data), "-k", str(data)]
            + ["-c", f"listen_addresses={db_ip}", "-c", f"port={PG_PORT}"]
            + ["-c", "fsync=off", "-c", "max_connections=200"],
            log="postgres.log",
        )
        self.wait_for_port("db", db_ip, PG_PORT, what="postgres")
        for port in REDIS_PORTS:
            self.wait_for_port("db", db_ip, port, what=f"redis-server :{port}")
        created = self.run_in(
            "db",
            [*as_postgres, str(PG_BIN / "psql"), "-h", db_ip, "-U", "postgres"]
            + ["-c", "CREATE DATABASE livestream"],
        )
        if created.returncode != 0:
            raise RuntimeError(f"CREATE DATABASE failed: {created.stderr}")

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@{self.ips['db']}:{PG_PORT}/livestream"

    @property
    def redis_url(self) -> str:
        return ",".join(f"redis://{self.ips['db']}:{port}/0" for port in REDIS_PORTS)

    def wait_for_port(self, host: str, ip: str, port: int, *, what: str, timeout=30) -> None:
        """Wait until ``ip:port`` accepts connections, probed from ``host``'s namespace."""
        probe = f"import socket; socket.create_connection(({ip!r}, {port}), timeout=1).close()"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run_in(host, [sys.executable, "-c", probe]).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{what} did not listen on {ip}:{port} within {timeout}s")
