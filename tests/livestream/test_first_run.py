"""The first ten minutes: every wrong turn ends in a sentence that says what to do."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.livestream.test_settings import production_env
from tests.support import ROOT, TIMEOUT, manage_py


def run(command: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_a_command_without_secret_key_says_so_in_one_line(tmp_path):
    result = run(manage_py("list_streams"), production_env(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "manage.py: configuration error: SECRET_KEY must be set when DEBUG is off "
        f"(or set DEBUG=1 for local development: a key is then kept in {tmp_path})"
    ]


def test_the_server_says_a_bad_setting_in_one_line(tmp_path):
    env = production_env(tmp_path, SECRET_KEY="k" * 50, SOCKETIO_EVENT_RATE="fast")
    result = run([sys.executable, "-m", "livestream.serve", "--workers", "2"], env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "SOCKETIO_EVENT_RATE must be an integer" in result.stderr


def test_local_commands_use_the_dev_key_without_debug(tmp_path):
    made = run(manage_py("check"), production_env(tmp_path, DEBUG="1"))
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "secret_key").exists()
    result = run(manage_py("check"), production_env(tmp_path))
    assert result.returncode == 0, result.stderr


def fetch(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    ("path", "status", "advice"),
    [
        ("/socket.io/socket.io.js", 404, "the Socket.IO endpoint is /socket.io/"),
        ("/socket.io/chat", 404, "the Socket.IO endpoint is /socket.io/"),
        ("/socket.io/?EIO=3&transport=polling", 400, "Engine.IO 4"),
        ("/socket.io/", 400, "socket.io-client"),  # a browser visiting the endpoint
        ("/socket.io/?EIO=4&transport=websocket", 400, "WebSocket upgrade"),
    ],
)
async def test_wrong_requests_to_the_endpoint_say_what_to_do(server, path, status, advice):
    answer = await asyncio.to_thread(fetch, server.url + path)
    assert answer[0] == status
    assert advice in answer[1]["detail"]
