"""Helpers for tests that reach outside the test process: child processes and rooms."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from gateway.rooms import group_name

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 5.0


def api_client_for(user) -> APIClient:
    """A REST client that sends ``user``'s access token, as the real clients do."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def database_url(conf: dict | None = None) -> str:
    """A ``DATABASE_URL`` for the database this test process uses (the test database)."""
    conf = conf or connection.settings_dict
    engine = conf["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        name = str(conf["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            raise RuntimeError("an in-memory SQLite database cannot be shared with a child process")
        return f"sqlite:///{Path(name).resolve()}"
    if engine == "django.db.backends.postgresql":
        auth = quote(conf["USER"] or "", safe="")
        if conf["PASSWORD"]:
            auth += ":" + quote(conf["PASSWORD"], safe="")
        host = quote(conf["HOST"] or "", safe="")  # a socket directory becomes %2F...
        port = f":{conf['PORT']}" if conf["PORT"] else ""
        return f"postgres://{auth}@{host}{port}/{quote(conf['NAME'], safe='')}"
    raise NotImplementedError(f"no DATABASE_URL for {engine}")


def child_env(**overrides: str) -> dict[str, str]:
    """Environment for a child process (``manage.py``, daphne) that shares this test run's
    database and Redis. Data must be committed to be seen: use ``transactional_db``."""
    env = dict(os.environ)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def manage_py(*args: str) -> list[str]:
    """The command line of ``python manage.py *args`` in this interpreter."""
    return [sys.executable, str(ROOT / "manage.py"), *args]


def run_manage_py(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``manage.py *args`` as another process of this test run (an operator's shell)."""
    return subprocess.run(
        manage_py(*args), cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=timeout
    )


def post_json(
    base_url: str, path: str, body: object, *, source: str, headers: dict | None = None
) -> int:
    """POST ``body`` from the local address ``source`` (any 127.x.y.z); the status code.

    Binding the client end lets one test play several machines against a real server.
    """
    parsed = urlsplit(base_url)
    conn = http.client.HTTPConnection(
        parsed.hostname, parsed.port, timeout=TIMEOUT, source_address=(source, 0)
    )
    try:
        conn.request(
            "POST", path, json.dumps(body),
            {"Content-Type": "application/json", **(headers or {})},
        )  # fmt: skip
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def decode_event(frame: str) -> tuple[str, object]:
    """``42["event",data]`` -> ``("event", data)``."""
    assert frame.startswith("42"), frame
    event, *rest = json.loads(frame[2:])
    return event, rest[0] if rest else None


@asynccontextmanager
async def room_listener(
    room: str, *, timeout: float = TIMEOUT
) -> AsyncIterator[Callable[[], Awaitable[tuple[str, object]]]]:
    """Listen to a room's broadcasts on the channel layer, as a gateway process does.

    Yields ``receive()``, which returns the next ``(event, data)`` sent to the
    room and fails after ``timeout`` seconds.
    """
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = group_name(room)
    await layer.group_add(group, channel)

    async def receive() -> tuple[str, object]:
        message = await asyncio.wait_for(layer.receive(channel), timeout)
        assert message["type"] == "room.emit" and message["room"] == room, message
        return decode_event(message["frame"])

    try:
        yield receive
    finally:
        await layer.group_discard(group, channel)
