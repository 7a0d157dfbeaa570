"""Fixtures shared by the whole suite: users, tokens and streams."""

from __future__ import annotations

import itertools
import os

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from streams.models import Stream

# Test bodies are coroutines that also set up data with the ORM; that is safe
# here (one thread). Child processes (servers, commands) never inherit this.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "1"

_names = itertools.count(1)


@pytest.fixture
def make_user(db):
    def make(username: str | None = None, *, password: str = "correct-horse-42", **extra):
        username = username or f"user{next(_names)}"
        return get_user_model().objects.create_user(username=username, password=password, **extra)

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice")


@pytest.fixture
def staff(make_user):
    return make_user("moderator", is_staff=True, is_superuser=True)


@pytest.fixture
def token_for():
    def token(user) -> str:
        return str(AccessToken.for_user(user))

    return token


@pytest.fixture
def make_stream(make_user):
    def make(*, streamer=None, title: str = "Live coding", live: bool = True) -> Stream:
        stream = Stream.objects.create(streamer=streamer or make_user(), title=title)
        if live:
            stream.start()
        return stream

    return make


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own, never the shared one."""
    redis = RedisServer(tmp_path)
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


# --- end-to-end: real daphne servers and real socket.io clients ---------------

from tests.servers import DaphneServer, ProxiedCluster, RedisServer  # noqa: E402
from tests.sio import Client  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def release_test_database(django_db_setup, django_db_blocker):
    """Before the test database is dropped, end the sessions other threads left open
    (asgiref's executor thread in async tests), so PostgreSQL lets it go."""
    yield
    with django_db_blocker.unblock():
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture(scope="session")
def server_logs(tmp_path_factory):
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def shared_server(django_db_setup, django_db_blocker, server_logs):
    """One daphne server for the tests that need no special settings."""
    with django_db_blocker.unblock():
        if os.environ.get("LIVESTREAM_E2E_PROXY") == "nginx":
            # The same end-to-end tests, through deploy/'s nginx recipe to 2 workers.
            server = ProxiedCluster(server_logs, workers=2).start()
        else:
            server = DaphneServer(server_logs).start()
    yield server
    server.stop()


@pytest.fixture
def server(shared_server, transactional_db):
    """The shared daphne server, with data committed where it can see it."""
    if shared_server.process.poll() is not None:
        pytest.fail(f"the shared daphne server died:\n{shared_server.log()}")
    return shared_server


@pytest.fixture
def start_server(transactional_db, server_logs):
    """Start extra daphne servers with their own settings (env overrides)."""
    started: list[DaphneServer] = []

    def start(*, tls: tuple | None = None, workers: int = 1, **env: str) -> DaphneServer:
        server = DaphneServer(server_logs, tls=tls, workers=workers, **env).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
async def connect(token_for):
    """Connect official python-socketio clients: ``await connect(server, user)``."""
    clients: list[Client] = []

    async def make(
        server, user=None, *, token: str | None = None, transports=("websocket",)
    ) -> Client:
        client = Client(server.url, transports=transports)
        clients.append(client)
        return await client.connect(token if user is None else token_for(user))

    async def refused(server, token: str | None):
        client = Client(server.url)
        clients.append(client)
        return await client.refused(token)

    make.refused = refused
    yield make
    for client in clients:
        await client.close()


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "run_last: runs after every other test (it checks what they recorded)"
    )


def pytest_collection_modifyitems(items) -> None:
    # tests/contracts validates the payloads every other test's clients recorded.
    items.sort(key=lambda item: item.get_closest_marker("run_last") is not None)
