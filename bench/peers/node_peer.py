"""The Node.js reference peer: official socket.io 4.8 on Node, the seed's events, in memory.

Its source lives outside this repository (``NODE_PEER_DIR``, by default the team's shared
copy); :func:`prepare` copies it under ``bench/results/node-peer`` (gitignored) and installs
its locked dependencies with ``npm ci`` once. Its tokens are JWTs signed with the secret we
start it with (the peer does not require a registered user to connect), and its live
streams are created through its own REST API once it listens.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import jwt

DEFAULT_SOURCE = "/work/shared/peers/node-socketio"
SECRET = "bench-node-peer-secret-0123456789abcdef"


def source_dir() -> Path:
    return Path(os.environ.get("NODE_PEER_DIR", DEFAULT_SOURCE))


def prepare(results: Path, *, timeout: float = 300) -> Path:
    """A ready-to-run copy of the peer (``npm ci`` once per lockfile)."""
    src, dest = source_dir(), results / "node-peer"
    lock = (src / "package-lock.json").read_bytes()
    installed = dest / "node_modules" / ".package-lock.json"
    if not installed.exists() or (dest / "package-lock.json").read_bytes() != lock:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns("node_modules"))
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=dest,
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
        )
    else:
        shutil.copy2(src / "server.js", dest / "server.js")
    return dest


def env(port: int) -> dict[str, str]:
    out = dict(os.environ, PORT=str(port), JWT_SECRET=SECRET, EXPOSE_STREAM_KEY="1")
    out.pop("REDIS_URL", None)
    return out


def _token(user_id: int) -> str:
    claims = {"token_type": "access", "user_id": str(user_id), "username": f"user-{user_id}"}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def _post(url: str, body: dict[str, Any], token: str) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def fixture(port: int, users: int, streams: int) -> dict[str, Any]:
    """Tokens for ``users`` viewers and ``streams`` live streams of one registered streamer."""
    api = f"http://127.0.0.1:{port}/api"
    request = urllib.request.Request(
        f"{api}/auth/register/",
        data=json.dumps({"username": "bench-streamer", "password": "bench-Passw0rd!"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        streamer = _token(int(json.loads(response.read())["id"]))
    stream_ids = []
    for i in range(streams):
        stream = _post(f"{api}/streams/", {"title": f"bench {i}"}, streamer)
        _post(f"{api}/streams/{stream['id']}/start/", {}, streamer)
        stream_ids.append(stream["id"])
    # Viewer ids start past the streamer's so a viewer is never the owner.
    return {"tokens": [_token(1000 + i) for i in range(users)], "stream_ids": stream_ids}
