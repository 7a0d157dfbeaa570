"""bench/large_room.py end to end at a tiny N: the figures it reports come from real deliveries."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_small_room_over_two_workers_gets_every_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    out = tmp_path / "out.json"
    run = subprocess.run(
        [sys.executable, "bench/large_room.py", "--viewers", "20", "--workers", "2"]
        + ["--rates", "5", "--duration", "2", "--idle-seconds", "1", "--join-batch", "7"]
        + ["--port", str(free_port()), "--data-dir", str(tmp_path / "data"), "--out", str(out)],
        cwd=REPO,
        env=env,
        timeout=100,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["connect"]["connected"] == 20
    assert report["join"]["room_size"] == 20
    assert report["join"]["final_count_exact"] == 20
    (chat,) = report["chat"]
    assert chat["acked_ok"] == chat["sent"] > 0
    assert chat["expected_deliveries"] == chat["acked_ok"] * 20
    assert chat["delivered"] == chat["expected_deliveries"]
    assert chat["samples"] == chat["delivered"]
    assert report["unexpected_closes"] == 0
    assert len(report["idle"]["worker_cpu_pct"]) == 2
