"""Where the benchmark keeps its data and how it gets tokens and live streams per server.

Our server runs on its own data dir (``bench/results/data``: SQLite file and embedded
Redis) so a benchmark never touches a developer's database. The pysio peer accepts any
token and any stream id, so its fixture is made up locally.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
DATA_DIR = RESULTS / "data"
PYTHON = sys.executable
# Every room a run uses starts empty: S2 and S3 take one per N, S5 one more.
STREAMS = 8


def django_env() -> dict[str, str]:
    """The environment our server and its management commands run with in a benchmark."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "livestream.settings",
            "LIVESTREAM_DATA_DIR": str(DATA_DIR),
            # DEBUG off: with DEBUG on Django keeps every SQL query in memory.
            "DEBUG": "0",
            "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
            "EXPOSE_STREAM_KEY_FOR_DEV": "1",
            "JWT_ACCESS_MINUTES": "720",
            "LOG_LEVEL": "WARNING",
            "ACCESS_LOG": "0",
            # The senders of S3/S5 chat 5-200 msg/s each; the peer has no limits. Rate
            # limits off, duplicate guard on: every message still pays the Redis check.
            "SOCKETIO_CHAT_RATE_MESSAGES": "0",
            "SOCKETIO_EVENT_RATE": "0",
            # The load generator opens thousands of sockets from one address at once.
            "SOCKETIO_MAX_PENDING_PER_IP": "0",
            "PYTHONPATH": str(REPO),
        }
    )
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    return env


def pysio_fixture(users: int, streams: int = STREAMS) -> dict[str, Any]:
    """Tokens ``user-<i>`` and random UUID stream ids (the peer takes any)."""
    return {
        "tokens": [f"user-{i}" for i in range(users)],
        "stream_ids": [str(uuid.uuid4()) for _ in range(streams)],
    }


def django_fixture(users: int, streams: int = STREAMS, *, timeout: float = 600) -> dict[str, Any]:
    """Migrate the bench database, then create users and live streams through the ORM."""
    env = django_env()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO,
        env=env,
        check=True,
        timeout=timeout,
    )
    out = subprocess.run(
        [
            PYTHON,
            str(BENCH / "django_fixture.py"),
            "--users",
            str(users),
            "--streams",
            str(streams),
        ],
        cwd=REPO,
        env=env,
        check=True,
        timeout=timeout,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def load_fixture(server: str, users: int, streams: int = STREAMS) -> dict[str, Any]:
    if server == "django":
        return django_fixture(users, streams)
    return pysio_fixture(users, streams)


def embedded_redis_pid() -> int | None:
    """PID of the redis-server the Django settings start for the bench data dir, if alive."""
    try:
        pid = int((DATA_DIR / "redis.pid").read_text().strip())
        proc = psutil.Process(pid)
        return pid if "redis" in proc.name() else None
    except (OSError, ValueError, psutil.Error):
        return None


def stop_embedded_redis(*, timeout: float = 10) -> None:
    """Stop the bench data dir's redis-server (started as a daemon by our settings)."""
    pid = embedded_redis_pid()
    if pid is None:
        return
    proc = psutil.Process(pid)
    proc.terminate()
    try:
        proc.wait(timeout)
    except psutil.TimeoutExpired:
        proc.kill()
