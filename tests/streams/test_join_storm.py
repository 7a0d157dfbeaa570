"""Joins that all come at once take turns on the worker instead of failing.

Scaled down from 10,000 viewers on two workers: a pool of 2 Redis connections
that a command waits at most 300 ms for, and 1,000 joins sent in the same instant
(waiting in the pool instead, 582 of them failed).
"""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.raw import RawSocket

pytestmark = pytest.mark.django_db(transaction=True)

JOINERS = 1000


async def test_joins_sent_all_at_once_all_succeed(start_server, make_user, make_stream, token_for):
    server = start_server(
        REDIS_POOL_SIZE="2",
        REDIS_POOL_TIMEOUT_MS="300",
        SOCKETIO_MAX_CONNECTIONS_PER_USER="0",
        SOCKETIO_MAX_PENDING_PER_IP="0",
    )
    stream_id = str(make_stream().pk)
    token = token_for(make_user())
    sockets: list[RawSocket] = []
    try:
        for _ in range(JOINERS // 20):
            sockets += await asyncio.gather(*(RawSocket.open(server.url) for _ in range(20)))
        answers = await asyncio.gather(*(s.connect(token) for s in sockets[-JOINERS:]))
        assert all(answer.startswith("40") for answer in answers), answers[:3]

        join = '421["join_stream_room",' + json.dumps({"streamId": stream_id}) + "]"
        await asyncio.gather(*(s.send(join) for s in sockets))
        acks = await asyncio.gather(*(_ack(s) for s in sockets))
    finally:
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)

    refused = [ack for ack in acks if not ack.get("ok")]
    assert not refused, f"{len(refused)} of {JOINERS} joins failed, e.g. {refused[0]}"
    assert max(ack["count"] for ack in acks) == JOINERS


async def _ack(socket: RawSocket) -> dict:
    """The join's answer (ack id 1), skipping the events sent before it."""
    while True:
        frame = await socket.recv(timeout=60)
        if frame.startswith("431"):
            return json.loads(frame[3:])[0]
