"""The access log names the client the way throttles and audit records do."""

from __future__ import annotations

import time
import urllib.request

import pytest

from tests.raw import RawSocket

pytestmark = pytest.mark.django_db(transaction=True)


def _get(url: str, forwarded_for: str) -> None:
    request = urllib.request.Request(url, headers={"X-Forwarded-For": forwarded_for})
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()


def _wait_for_line(server, needle: str, timeout: float = 5) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in server.log().splitlines():
            if needle in line:
                return line
        time.sleep(0.05)
    raise AssertionError(f"no access log line with {needle!r}:\n{server.log()}")


async def test_behind_a_trusted_proxy_the_forwarded_client_is_logged(start_server):
    server = start_server(TRUSTED_PROXIES="127.0.0.1/32", ACCESS_LOG="1")
    _get(f"{server.url}/api/streams/?probe=http", "198.51.100.7")
    line = _wait_for_line(server, '"GET /api/streams/" 200')
    assert line.startswith("198.51.100.7 ")

    socket = await RawSocket.open(
        server.url, additional_headers={"X-Forwarded-For": "198.51.100.8"}
    )
    await socket.close()
    assert _wait_for_line(server, '"WSCONNECTING /socket.io/"').startswith("198.51.100.8 ")


def test_a_header_from_an_untrusted_peer_is_not_believed(start_server):
    server = start_server(TRUSTED_PROXIES="", ACCESS_LOG="1")
    _get(f"{server.url}/api/streams/", "198.51.100.7")
    line = _wait_for_line(server, '"GET /api/streams/" 200')
    assert line.startswith("127.0.0.1 ")
    assert "198.51.100.7" not in server.log()
