"""Deactivating a user reaches their open sockets on every worker, and keeps them out."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from accounts.revocation import ACCESS_REVOKED_EVENT, ACCOUNT_DELETED, ACCOUNT_DISABLED
from gateway.auth import AUTHENTICATION_ERROR
from tests.sio import SERVER_DISCONNECT

pytestmark = pytest.mark.django_db(transaction=True)

# The bound: every socket is gone within a second of the change.
WITHIN = 1.0


async def assert_revoked(client, message: str, *, after: int) -> None:
    payload = await client.wait_for(ACCESS_REVOKED_EVENT, after=after, timeout=WITHIN)
    assert payload == {"message": message}
    assert await client.wait_disconnected(timeout=WITHIN) == SERVER_DISCONNECT


async def test_deactivation_disconnects_the_users_sockets_on_every_worker(
    server, start_server, connect, make_user, token_for
):
    other_worker = start_server()
    banned, bystander = make_user(), make_user()
    token = token_for(banned)
    here = await connect(server, token=token)
    there = await connect(other_worker, token=token)
    unaffected = await connect(other_worker, bystander)

    marks = here.mark(), there.mark()
    banned.is_active = False
    await sync_to_async(banned.save)()

    await assert_revoked(here, ACCOUNT_DISABLED, after=marks[0])
    await assert_revoked(there, ACCOUNT_DISABLED, after=marks[1])
    assert await connect.refused(other_worker, token) == {"message": AUTHENTICATION_ERROR}
    assert await connect.refused(server, token) == {"message": AUTHENTICATION_ERROR}
    assert unaffected.sio.connected
    assert (await unaffected.call("no_such_event"))["ok"] is False  # still served
    assert unaffected.received(ACCESS_REVOKED_EVENT) == []


async def test_deleting_a_user_disconnects_their_sockets(server, connect, make_user):
    doomed = make_user()
    client = await connect(server, doomed)
    mark = client.mark()
    await sync_to_async(doomed.delete)()
    await assert_revoked(client, ACCOUNT_DELETED, after=mark)
