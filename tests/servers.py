"""Real daphne servers for end-to-end tests, sharing the test database and Redis."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support import ROOT, child_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DaphneServer:
    """The service (``python -m livestream.serve``) on a free port."""

    def __init__(self, log_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.env = child_env(**env)
        self.log_path = log_dir / f"daphne-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> DaphneServer:
        log = open(self.log_path, "wb")  # noqa: SIM115 (lives as long as the process)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "livestream.serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
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
                with urllib.request.urlopen(f"{self.url}/admin/login/", timeout=2):
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
