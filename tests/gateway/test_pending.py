"""Unauthenticated sockets are capped per client address (SOCKETIO_MAX_PENDING_PER_IP)."""

from __future__ import annotations

import json

import aiohttp
import pytest
from websockets.exceptions import InvalidStatus

from tests.raw import RawPolling, RawSocket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_sockets_over_the_pending_cap_are_refused_until_one_authenticates(
    start_server, user, token_for
):
    server = start_server(SOCKETIO_MAX_PENDING_PER_IP="2")
    first = await RawSocket.open(server.url)
    second = await RawSocket.open(server.url)
    with pytest.raises(InvalidStatus) as refused:
        await RawSocket.open(server.url)
    assert refused.value.response.status_code == 403

    # An authenticated socket no longer counts: one more may come, not two.
    assert (await first.connect(token_for(user))).startswith("40")
    third = await RawSocket.open(server.url)
    with pytest.raises(InvalidStatus):
        await RawSocket.open(server.url)
    for raw in (first, second, third):
        await raw.close()


async def test_long_polling_sessions_count_against_the_same_cap(start_server, user, token_for):
    server = start_server(SOCKETIO_MAX_PENDING_PER_IP="2")
    async with aiohttp.ClientSession() as http:
        first = await RawPolling.open(http, server.url)
        await RawPolling.open(http, server.url)
        status, body = await RawPolling(http, server.url).request("GET")
        assert (status, json.loads(body)["message"]) == (403, "Forbidden")
        assert "SOCKETIO_MAX_PENDING_PER_IP" in json.loads(body)["detail"]
        with pytest.raises(InvalidStatus):
            await RawSocket.open(server.url)  # one count for both transports

        assert (await first.connect(token_for(user)))[0].startswith("40")
        await RawPolling.open(http, server.url)
