"""Browser origins allowed to open a WebSocket: settings.ALLOWED_ORIGINS."""

import pytest
from websockets.exceptions import InvalidStatus

from gateway.origins import origin_matches
from tests.raw import RawSocket

DEFAULTS = ["http://localhost", "http://127.0.0.1", "http://localhost:*", "http://127.0.0.1:*"]


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost",
        "http://localhost:3000",
        "http://127.0.0.1:8000",
        "HTTP://LocalHost:3000",
        "http://localhost/",
    ],
)
def test_default_patterns_allow_local_origins(origin):
    assert origin_matches(origin, DEFAULTS)


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "https://localhost",
        "http://localhost.evil.example",
        "http://localhost.evil.example:3000",
        "http://localhost:3000.evil.example",
        "http://evil.example/http://localhost:1",
        "http://localhost:",
        "null",
        "",
    ],
)
def test_default_patterns_refuse_other_origins(origin):
    assert not origin_matches(origin, DEFAULTS)


def test_exact_pattern_needs_the_same_port():
    assert origin_matches("https://app.example.com", ["https://app.example.com"])
    assert not origin_matches("https://app.example.com:8443", ["https://app.example.com"])


def test_star_allows_every_origin():
    assert origin_matches("https://anything.example", ["*"])
    assert origin_matches("null", ["*"])


pytestmark_e2e = pytest.mark.django_db(transaction=True)


@pytestmark_e2e
async def test_disallowed_origin_is_refused_at_the_handshake(server):
    with pytest.raises(InvalidStatus) as refused:
        await RawSocket.open(server.url, origin="http://evil.example")
    assert refused.value.response.status_code == 403


@pytestmark_e2e
@pytest.mark.parametrize("origin", ["http://localhost:3000", "http://127.0.0.1"])
async def test_allowed_origin_connects(server, user, token_for, origin):
    raw = await RawSocket.open(server.url, origin=origin)
    assert (await raw.connect(token_for(user))).startswith("40")
    await raw.close()


@pytestmark_e2e
async def test_allowed_origins_come_from_the_environment(start_server, user, token_for):
    server = start_server(ALLOWED_ORIGINS="https://app.example.com")
    with pytest.raises(InvalidStatus):
        await RawSocket.open(server.url, origin="http://localhost:3000")
    raw = await RawSocket.open(server.url, origin="https://app.example.com")
    assert (await raw.connect(token_for(user))).startswith("40")
    await raw.close()
