"""Authentication: the JWT in ``auth.token`` of the CONNECT packet."""

from datetime import timedelta

import pytest
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

pytestmark = pytest.mark.django_db(transaction=True)


async def test_valid_access_token_connects(server, connect, user):
    client = await connect(server, user)
    assert client.sio.connected


def _expired(user) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(minutes=1))
    return str(token)


def _bad_signature(user) -> str:
    head, body, signature = str(AccessToken.for_user(user)).split(".")
    return ".".join([head, body, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda user: None, id="missing"),
        pytest.param(lambda user: "", id="empty"),
        pytest.param(lambda user: "not-a-jwt", id="malformed"),
        pytest.param(_expired, id="expired"),
        pytest.param(lambda user: str(RefreshToken.for_user(user)), id="refresh-token"),
        pytest.param(_bad_signature, id="bad-signature"),
    ],
)
async def test_bad_tokens_are_refused_with_authentication_error(server, connect, user, make_token):
    assert await connect.refused(server, make_token(user)) == {"message": "Authentication error"}


async def test_inactive_user_is_refused(server, connect, make_user, token_for):
    user = make_user(is_active=False)
    assert await connect.refused(server, token_for(user)) == {"message": "Authentication error"}


async def test_deleted_user_is_refused(server, connect, make_user, token_for):
    user = make_user()
    token = token_for(user)
    user.delete()
    assert await connect.refused(server, token) == {"message": "Authentication error"}


async def test_connection_without_origin_header_is_accepted(server, user, token_for):
    # Native apps and server-side clients send no Origin header at all.
    from tests.raw import RawSocket

    raw = await RawSocket.open(server.url, origin=None)
    assert (await raw.connect(token_for(user))).startswith("40")
    await raw.close()
