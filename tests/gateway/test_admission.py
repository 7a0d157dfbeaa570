"""What a socket may send before CONNECT, beyond the bad-input battery's one-answer cases."""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosed

from tests.raw import RawSocket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_pings_with_data_are_charged_to_the_event_budget(server):
    # A budget of 100 (SOCKETIO_EVENT_BURST): the first pings are answered, and going
    # on 100 beyond it closes the socket with 4008 instead of echoing for free.
    raw = await RawSocket.open(server.url)
    for _ in range(250):
        await raw.send("2ping")
    pongs = 0
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            assert await raw.recv() == "3ping"
            pongs += 1
    assert closed.value.rcvd.code == 4008
    assert pongs < 200  # the budget plus what refills while they arrive
